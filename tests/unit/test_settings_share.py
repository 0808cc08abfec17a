"""SOP_MAX_QUARANTINE_SHARE: parsed once, bad values are one-line usage errors of `sop run`."""

from __future__ import annotations

import pytest

from sop_pipeline.resources import SopSettings
from sop_pipeline.settings import Settings, SettingsError
from tests.conftest import sop


def test_share_defaults_to_a_fifth_and_travels_to_the_resource():
    assert Settings.from_env({}).max_quarantine_share == 0.2
    s = Settings.from_env({"SOP_MAX_QUARANTINE_SHARE": "0.35"})
    assert SopSettings.from_settings(s).settings.max_quarantine_share == 0.35


@pytest.mark.parametrize("value", ["50%", "1.5", "-0.1", "nan"])
def test_a_share_outside_0_1_is_refused(value):
    with pytest.raises(SettingsError, match="SOP_MAX_QUARANTINE_SHARE must be a share between 0 and 1"):
        Settings.from_env({"SOP_MAX_QUARANTINE_SHARE": value})


def test_cli_reports_a_bad_share_in_one_line(tmp_path):
    proc = sop(
        "run",
        "--extracts",
        str(tmp_path),
        "--data-dir",
        str(tmp_path / "d"),
        env={"SOP_MAX_QUARANTINE_SHARE": "lots"},
        timeout=120,
    )
    assert proc.returncode == 2 and len(proc.stderr.strip().splitlines()) == 1
    assert "SOP_MAX_QUARANTINE_SHARE" in proc.stderr and "Traceback" not in proc.stderr
