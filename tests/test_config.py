import dataclasses

import pytest

from tf_cyclegan.core.config import Config
from tf_cyclegan.train import parse_config


def test_defaults_are_the_papers():
    c = Config()
    assert (c.netG, c.netD, c.n_layers_D, c.ngf, c.ndf) == ("resnet_9blocks", "basic", 3, 64, 64)
    assert (c.load_size, c.crop_size, c.batch_size, c.preprocess, c.no_flip) == (286, 256, 1, "resize_and_crop", False)
    assert (c.gan_mode, c.lambda_A, c.lambda_B, c.lambda_identity, c.pool_size) == ("lsgan", 10.0, 10.0, 0.5, 50)
    assert (c.lr, c.beta1, c.n_epochs, c.n_epochs_decay) == (0.0002, 0.5, 100, 100)
    assert c.errors() == []


def test_json_round_trip_keeps_every_field():
    c = Config(dataset="cycle_gan/horse2zebra", ngf=32, max_dataset_size=10, no_flip=True, lambda_identity=0.0)
    again = Config.from_json(c.to_json())
    assert again == c
    assert dataclasses.asdict(again) == dataclasses.asdict(c)


def test_unknown_json_key_is_rejected():
    with pytest.raises(ValueError, match="unknown config keys: bogus"):
        Config.from_dict({"bogus": 1})


@pytest.mark.parametrize("overrides, message", [
    (dict(crop_size=300), "--crop_size 300 is larger than --load_size 286"),
    (dict(ngf=0), "--ngf: must be at least 1"),
    (dict(netG="unet_512"), "--netG: 'unet_512' is not resnet_<N>blocks"),
    (dict(gan_mode="wgan"), "--gan_mode: 'wgan' is not one of lsgan, vanilla"),
    (dict(crop_size=30, load_size=30), "--crop_size: resnet_9blocks needs a multiple of 4, got 30"),
    (dict(netG="unet_256", crop_size=128, load_size=143), "--crop_size: unet_256 needs a multiple of 256"),
    (dict(norm="layer"), "--norm: 'layer' is not one of instance, batch, none"),
    (dict(init_type="he"), "--init_type: 'he' is not one of normal, xavier, kaiming, orthogonal"),
    (dict(lambda_A=-1), "--lambda_A: must not be negative"),
    (dict(beta1=1.0), "--beta1: must be in [0, 1)"),
])
def test_errors_name_the_flag(overrides, message):
    errors = Config(**overrides).errors()
    assert any(message in e for e in errors), errors


def test_incompatibilities_list_only_fixed_fields():
    saved = Config(ngf=64, n_epochs=100)
    assert Config(ngf=64, n_epochs=300, output="elsewhere").incompatibilities(saved) == []
    problems = Config(ngf=32, pool_size=10).incompatibilities(saved)
    assert problems == ["--ngf: the run has 64, this command has 32",
                        "--pool_size: the run has 50, this command has 10"]


def test_cli_parses_reference_flags_and_hyphen_aliases():
    c = parse_config(["--dataset", "x", "--n_epochs", "3", "--n-epochs-decay", "4", "--no_flip",
                      "--netG", "resnet_6blocks", "--max_dataset_size", "7", "--lr", "0.001"])
    assert (c.dataset, c.n_epochs, c.n_epochs_decay, c.no_flip, c.netG, c.max_dataset_size, c.lr) == (
        "x", 3, 4, True, "resnet_6blocks", 7, 0.001)


@pytest.mark.parametrize("argv, message", [
    (["--crop_size", "512"], "--crop_size 512 is larger than --load_size 286"),
    (["--ngf", "-3"], "--ngf: must be at least 1"),
    (["--gan_mode", "wgan"], "invalid choice: 'wgan'"),
    (["--ngf", "many"], "invalid int value: 'many'"),
])
def test_cli_flag_errors_exit_2_with_one_line(argv, message, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse_config(argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert message in err[-1] and "Traceback" not in "\n".join(err)


def test_reference_commands_carry_over():
    c = parse_config(["--dataset", "x", "--no_dropout", "--serial_batches", "--lr_policy", "step",
                      "--lr_decay_iters", "7", "--epoch_count", "5", "--gan_mode", "wgangp", "--norm", "batch",
                      "--netG", "unet_256", "--netD", "pixel", "--init_type", "kaiming", "--use_dropout"])
    assert (c.serial_batches, c.lr_policy, c.lr_decay_iters, c.epoch_count, c.gan_mode, c.norm, c.netG, c.netD,
            c.init_type, c.use_dropout) == (True, "step", 7, 5, "wgangp", "batch", "unet_256", "pixel", "kaiming",
                                            True)
    assert Config(epoch_count=300).errors() == ["--epoch_count 300 is past the last epoch (--n_epochs + "
                                                "--n_epochs_decay = 200)"]


def test_every_reference_preprocess_mode_and_lr_policy_is_accepted():
    for mode in ("resize_and_crop", "crop", "scale_width", "scale_width_and_crop", "none"):
        assert parse_config(["--preprocess", mode]).preprocess == mode
    assert parse_config(["--lr_policy", "plateau"]).lr_policy == "plateau"
    # Without a crop, crop_size only sizes the sample grids, so it need not fit in load_size.
    assert Config(preprocess="none", crop_size=300).errors() == []
    assert Config(preprocess="scale_width", crop_size=300).errors() == []
    assert Config(preprocess="scale_width_and_crop", crop_size=296).errors() == [
        "--crop_size 296 is larger than --load_size 286: with scale_width_and_crop the crop must fit in the "
        "resized image"]
    assert [Config(preprocess=m).crops for m in ("crop", "none", "scale_width")] == [True, False, False]


def test_plateau_help_states_the_schedules_own_numbers():
    import inspect

    from tf_cyclegan.core.config import PLATEAU
    from tf_cyclegan.models.schedules import PlateauDecay

    signature = inspect.signature(PlateauDecay.__init__).parameters
    assert PLATEAU == {name: signature[name].default for name in PLATEAU}
    text = " ".join(next(f for f in dataclasses.fields(Config) if f.name == "lr_policy").metadata["help"].split())
    assert "plateau (x0.2 once the epoch's mean generator loss has not improved by 1 percent for 6 epochs" in text
