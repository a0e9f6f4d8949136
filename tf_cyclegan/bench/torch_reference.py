"""The reference's CycleGAN and pix2pix in PyTorch (junyanz/pytorch-CycleGAN-and-pix2pix, rebuilt from its
architecture, with its module paths so state-dict keys match), and CUT's anti-aliased ResNet generator
(taesungp/contrastive-unpaired-translation, same keys and buffers): the networks for the from_torch parity tests,
and each model's training iteration for `python -m tf_cyclegan.bench --only reference [--model pix2pix]`, so
that our speed is compared with the reference's on the same machine. Needs PyTorch (the `torch` extra).
"""

from __future__ import annotations

import contextlib
import functools
import time

import torch

nn = torch.nn


class ResnetBlock(nn.Module):
    def __init__(self, dim, norm, use_dropout, use_bias):
        super().__init__()
        layers = [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim), nn.ReLU(True)]
        if use_dropout:
            layers.append(nn.Dropout(0.5))
        layers += [nn.ReflectionPad2d(1), nn.Conv2d(dim, dim, 3, bias=use_bias), norm(dim)]
        self.conv_block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv_block(x)


class ResnetGenerator(nn.Module):
    def __init__(self, ngf, n_blocks, norm, use_dropout=False):
        super().__init__()
        use_bias = norm.func == nn.InstanceNorm2d
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=use_bias), norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=2, padding=1, bias=use_bias),
                       norm(ngf * mult * 2), nn.ReLU(True)]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout, use_bias) for _ in range(n_blocks)]
        for mult in (4, 2):
            layers += [nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1, output_padding=1,
                                          bias=use_bias), norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)

def binomial_filter(size: int) -> torch.Tensor:
    """CUT's get_filter: the outer product of a binomial row ([1,2,1] for 3, [1,3,3,1] for 4), summing to 1."""
    taps = torch.tensor({3: [1.0, 2.0, 1.0], 4: [1.0, 3.0, 3.0, 1.0]}[size])
    kernel = taps[:, None] * taps[None, :]
    return kernel / kernel.sum()


class Downsample(nn.Module):
    """CUT's anti-aliased downsampling (filt_size 3, stride 2): reflection pad 1, then each channel blurred by
    its copy of the filter, every second pixel kept. The filter is a buffer: model.<i>.filt (C, 1, 3, 3)."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("filt", binomial_filter(3)[None, None].repeat(channels, 1, 1, 1))
        self.pad = nn.ReflectionPad2d(1)

    def forward(self, x):
        return nn.functional.conv2d(self.pad(x), self.filt, stride=2, groups=x.shape[1])


class Upsample(nn.Module):
    """CUT's anti-aliased upsampling (filt_size 4, stride 2): replication pad 1, a transposed conv with the
    [1,3,3,1] filter times stride² (padding 2), one pixel cropped from each side: bilinear x2."""

    def __init__(self, channels):
        super().__init__()
        self.register_buffer("filt", (binomial_filter(4) * 4)[None, None].repeat(channels, 1, 1, 1))
        self.pad = nn.ReplicationPad2d(1)

    def forward(self, x):
        y = nn.functional.conv_transpose2d(self.pad(x), self.filt, stride=2, padding=2, groups=x.shape[1])
        return y[:, :, 1:-1, 1:-1]


class CUTGenerator(nn.Module):
    """CUT's ResnetGenerator (taesungp/contrastive-unpaired-translation, models/networks.py), module for module:
    without no_antialias each stride-2 conv is a stride-1 conv, norm, ReLU, Downsample; without no_antialias_up
    each transposed conv is Upsample then a 3x3 conv. With both switches on it is CycleGAN's ResnetGenerator."""

    def __init__(self, ngf, n_blocks, norm, use_dropout=False, no_antialias=False, no_antialias_up=False):
        super().__init__()
        use_bias = norm.func == nn.InstanceNorm2d
        layers = [nn.ReflectionPad2d(3), nn.Conv2d(3, ngf, 7, bias=use_bias), norm(ngf), nn.ReLU(True)]
        for mult in (1, 2):
            stride, blur = (2, []) if no_antialias else (1, [Downsample(ngf * mult * 2)])
            layers += [nn.Conv2d(ngf * mult, ngf * mult * 2, 3, stride=stride, padding=1, bias=use_bias),
                       norm(ngf * mult * 2), nn.ReLU(True), *blur]
        layers += [ResnetBlock(ngf * 4, norm, use_dropout, use_bias) for _ in range(n_blocks)]
        for mult in (4, 2):
            if no_antialias_up:
                layers.append(nn.ConvTranspose2d(ngf * mult, ngf * mult // 2, 3, stride=2, padding=1,
                                                 output_padding=1, bias=use_bias))
            else:
                layers += [Upsample(ngf * mult), nn.Conv2d(ngf * mult, ngf * mult // 2, 3, padding=1, bias=use_bias)]
            layers += [norm(ngf * mult // 2), nn.ReLU(True)]
        layers += [nn.ReflectionPad2d(3), nn.Conv2d(ngf, 3, 7), nn.Tanh()]
        self.model = nn.Sequential(*layers)

    def forward(self, x, layers=(), encode_only=False):
        """CUT's forward: the translation; with `layers` also the outputs of those modules (its --nce_layers),
        and with encode_only those alone, stopping after the last."""
        if not layers:
            return self.model(x)
        feats = []
        for index, module in enumerate(self.model):
            x = module(x)
            if index in layers:
                feats.append(x)
            if encode_only and index == max(layers):
                return feats
        return x, feats

    def encode(self, x, layers):
        """The features PatchNCE compares: forward(x, layers, encode_only=True)."""
        return self.forward(x, layers, encode_only=True)


class UnetBlock(nn.Module):
    def __init__(self, outer_nc, inner_nc, norm, input_nc=None, submodule=None, outermost=False, innermost=False,
                 use_dropout=False):
        super().__init__()
        self.outermost = outermost
        use_bias = norm.func == nn.InstanceNorm2d
        down = nn.Conv2d(input_nc or outer_nc, inner_nc, 4, stride=2, padding=1, bias=use_bias)
        if outermost:
            layers = [down, submodule, nn.ReLU(True), nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1), nn.Tanh()]
        elif innermost:
            layers = [nn.LeakyReLU(0.2, True), down, nn.ReLU(True),
                      nn.ConvTranspose2d(inner_nc, outer_nc, 4, 2, 1, bias=use_bias), norm(outer_nc)]
        else:
            layers = [nn.LeakyReLU(0.2, True), down, norm(inner_nc), submodule, nn.ReLU(True),
                      nn.ConvTranspose2d(inner_nc * 2, outer_nc, 4, 2, 1, bias=use_bias), norm(outer_nc)]
            if use_dropout:  # last, so the other layers keep their state-dict keys
                layers.append(nn.Dropout(0.5))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x) if self.outermost else torch.cat([x, self.model(x)], 1)


class UnetGenerator(nn.Module):
    """num_downs stride-2 levels (unet_256: 8); with use_dropout, as the reference, only the num_downs - 5
    intermediate ngf*8-channel levels drop out (after their up-convolution's norm)."""

    def __init__(self, num_downs, ngf, norm, use_dropout=False):
        super().__init__()
        block = UnetBlock(ngf * 8, ngf * 8, norm, innermost=True)
        for _ in range(num_downs - 5):
            block = UnetBlock(ngf * 8, ngf * 8, norm, submodule=block, use_dropout=use_dropout)
        for outer, inner in ((4, 8), (2, 4), (1, 2)):
            block = UnetBlock(ngf * outer, ngf * inner, norm, submodule=block)
        self.model = UnetBlock(3, ngf, norm, input_nc=3, submodule=block, outermost=True)

    def forward(self, x):
        return self.model(x)


INSTANCE = functools.partial(nn.InstanceNorm2d, affine=False, track_running_stats=False)
BATCH = functools.partial(nn.BatchNorm2d, affine=True, track_running_stats=True)
NONE = functools.partial(nn.Identity)  # --norm none: Identity modules, and (not instance norm) no conv biases


class NLayerDiscriminator(nn.Module):
    """The 70x70 PatchGAN (n_layers=3); pix2pix's judges an input and its translation, 6 channels."""

    def __init__(self, ndf, norm, n_layers=3, input_nc=3):
        super().__init__()
        use_bias = norm.func == nn.InstanceNorm2d
        layers, mult = [nn.Conv2d(input_nc, ndf, 4, stride=2, padding=1), nn.LeakyReLU(0.2, True)], 1
        for n in range(1, n_layers + 1):
            previous, mult = mult, min(2**n, 8)
            layers += [nn.Conv2d(ndf * previous, ndf * mult, 4, stride=2 if n < n_layers else 1, padding=1,
                                 bias=use_bias), norm(ndf * mult), nn.LeakyReLU(0.2, True)]
        layers.append(nn.Conv2d(ndf * mult, 1, 4, stride=1, padding=1))
        self.model = nn.Sequential(*layers)

    def forward(self, x):
        return self.model(x)


class ImagePool:
    """The reference's history of fakes (a Python list)."""

    def __init__(self, size):
        self.size, self.images = size, []

    def query(self, images):
        out = []
        for image in images:
            image = image[None]
            if len(self.images) < self.size:
                self.images.append(image)
                out.append(image)
            elif torch.rand(1).item() > 0.5:
                i = int(torch.randint(0, self.size, (1,)).item())
                out.append(self.images[i].clone())
                self.images[i] = image
            else:
                out.append(image)
        return torch.cat(out, 0)


class ReferenceCycleGAN:
    """cycle_gan_model.py's optimize_parameters: G and F updated on LSGAN + cycle + identity losses, then
    D_X and D_Y on real images against pooled fakes; Adam(2e-4, beta1 0.5)."""

    def __init__(self, ngf=64, n_blocks=9, ndf=64, lambda_cycle=10.0, lambda_identity=0.5):
        self.G, self.F = (ResnetGenerator(ngf, n_blocks, INSTANCE) for _ in range(2))
        self.D_X, self.D_Y = (NLayerDiscriminator(ndf, INSTANCE) for _ in range(2))
        self.pool_x, self.pool_y = ImagePool(50), ImagePool(50)
        self.optimizer_G = torch.optim.Adam([*self.G.parameters(), *self.F.parameters()], lr=2e-4,
                                            betas=(0.5, 0.999))
        self.optimizer_D = torch.optim.Adam([*self.D_X.parameters(), *self.D_Y.parameters()], lr=2e-4,
                                            betas=(0.5, 0.999))
        self.lambda_cycle, self.lambda_identity = lambda_cycle, lambda_identity

    @staticmethod
    def gan_loss(prediction, real):
        return nn.functional.mse_loss(prediction, torch.full_like(prediction, 1.0 if real else 0.0))

    def step(self, real_x, real_y):
        fake_y, fake_x = self.G(real_x), self.F(real_y)
        cycled_x, cycled_y = self.F(fake_y), self.G(fake_x)
        for net in (self.D_X, self.D_Y):
            net.requires_grad_(False)
        self.optimizer_G.zero_grad()
        l1, lam, idt = nn.functional.l1_loss, self.lambda_cycle, self.lambda_identity
        loss = (self.gan_loss(self.D_Y(fake_y), True) + self.gan_loss(self.D_X(fake_x), True)
                + lam * (l1(cycled_x, real_x) + l1(cycled_y, real_y))
                + lam * idt * (l1(self.G(real_y), real_y) + l1(self.F(real_x), real_x)))
        loss.backward()
        self.optimizer_G.step()
        for net in (self.D_X, self.D_Y):
            net.requires_grad_(True)
        self.optimizer_D.zero_grad()
        for D, real, fake in ((self.D_Y, real_y, self.pool_y.query(fake_y)),
                              (self.D_X, real_x, self.pool_x.query(fake_x))):
            loss_D = 0.5 * (self.gan_loss(D(real), True) + self.gan_loss(D(fake.detach()), False))
            loss_D.backward()
        self.optimizer_D.step()


class ReferencePix2Pix:
    """pix2pix_model.py's optimize_parameters: fake_B = G(A); D updated on the vanilla GAN loss (BCE on
    logits) of (A, B) as real and (A, fake_B detached) as fake, halved; then G, with D frozen, on fooling D
    plus lambda_L1 |fake_B - B|_1. Adam(2e-4, beta1 0.5) each. No pool: pix2pix trains with --pool_size 0,
    with which the reference's pool hands back its input."""

    def __init__(self, G, ndf=64, lambda_L1=100.0):
        self.G = G
        self.D = NLayerDiscriminator(ndf, BATCH, input_nc=6)
        self.optimizer_G = torch.optim.Adam(self.G.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.optimizer_D = torch.optim.Adam(self.D.parameters(), lr=2e-4, betas=(0.5, 0.999))
        self.lambda_L1 = lambda_L1

    @staticmethod
    def gan_loss(prediction, real):
        target = torch.full_like(prediction, 1.0 if real else 0.0)
        return nn.functional.binary_cross_entropy_with_logits(prediction, target)

    def step(self, real_a, real_b):
        fake_b = self.G(real_a)
        self.D.requires_grad_(True)
        self.optimizer_D.zero_grad()
        loss_D = 0.5 * (self.gan_loss(self.D(torch.cat([real_a, fake_b.detach()], 1)), False)
                        + self.gan_loss(self.D(torch.cat([real_a, real_b], 1)), True))
        loss_D.backward()
        self.optimizer_D.step()
        self.D.requires_grad_(False)
        self.optimizer_G.zero_grad()
        loss_G = (self.gan_loss(self.D(torch.cat([real_a, fake_b], 1)), True)
                  + self.lambda_L1 * nn.functional.l1_loss(fake_b, real_b))
        loss_G.backward()
        self.optimizer_G.step()


def pix2pix_generator(num_downs=8, n_blocks=None, ngf=64):
    """pix2pix's generator: the U-Net of num_downs levels (unet_256: 8), or with n_blocks the ResNet, each
    with batch norm and dropout, as the reference's pix2pix defaults (--norm batch, no --no_dropout)."""
    if n_blocks:
        return ResnetGenerator(ngf, n_blocks, BATCH, use_dropout=True)
    return UnetGenerator(num_downs, ngf, BATCH, use_dropout=True)


AUTOCAST = {"bf16": torch.bfloat16, "fp16": torch.float16}  # our --mixed_precision names


def autocast(mixed_precision: str = "off"):
    """PyTorch's own mixed precision on the CPU (torch.autocast), the counterpart of --mixed_precision for
    timing the reference fairly; "off" is float32, as the reference trains."""
    if mixed_precision == "off":
        return contextlib.nullcontext()
    return torch.autocast("cpu", dtype=AUTOCAST[mixed_precision])


def _time_steps(model, real_x, real_y, iters: int, mixed_precision: str) -> list[float]:
    with autocast(mixed_precision):
        model.step(real_x, real_y)
        times = []
        for _ in range(iters):
            started = time.perf_counter()
            model.step(real_x, real_y)
            times.append(time.perf_counter() - started)
    return times


def time_reference_step(size: int, batch_size: int, iters: int, n_blocks: int = 9, ngf: int = 64,
                        mixed_precision: str = "off") -> list[float]:
    """Seconds of each timed CycleGAN iteration, after one warm-up iteration."""
    torch.manual_seed(0)
    model = ReferenceCycleGAN(ngf, n_blocks, ngf)
    real_x, real_y = (torch.rand(batch_size, 3, size, size) * 2 - 1 for _ in range(2))
    return _time_steps(model, real_x, real_y, iters, mixed_precision)


def time_reference_pix2pix_step(size: int, batch_size: int, iters: int, num_downs: int = 8,
                                n_blocks: int | None = None, ngf: int = 64,
                                mixed_precision: str = "off") -> list[float]:
    """Seconds of each timed pix2pix iteration (an input and its paired truth), after one warm-up."""
    torch.manual_seed(0)
    model = ReferencePix2Pix(pix2pix_generator(num_downs, n_blocks, ngf), ngf)
    real_a, real_b = (torch.rand(batch_size, 3, size, size) * 2 - 1 for _ in range(2))
    return _time_steps(model, real_a, real_b, iters, mixed_precision)


def time_reference_inference(size: int, iters: int, n_blocks: int = 9, ngf: int = 64,
                             G: nn.Module | None = None) -> list[float]:
    """Seconds of each timed generator forward pass (no gradients, eval mode), after one warm-up pass; of G,
    or by default of CycleGAN's ResNet generator of n_blocks."""
    torch.manual_seed(0)
    G = (ResnetGenerator(ngf, n_blocks, INSTANCE) if G is None else G).eval()
    x = torch.rand(1, 3, size, size) * 2 - 1
    times = []
    with torch.no_grad():
        G(x)
        for _ in range(iters):
            started = time.perf_counter()
            G(x)
            times.append(time.perf_counter() - started)
    return times
