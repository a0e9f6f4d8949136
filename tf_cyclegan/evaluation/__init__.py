"""Measuring translations: L1, PSNR, SSIM, FID and KID, the test data, and the results page."""
