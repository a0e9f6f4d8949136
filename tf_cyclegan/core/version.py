"""The version of tf_cyclegan (setup.cfg reads it from here; CHANGELOG.md says what each one changed)."""

VERSION = "1.0.0"
