import subprocess
import sys


def test_help_lists_commands() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "strata", "--help"], capture_output=True, text=True, check=True
    )
    assert "Usage" in out.stdout


def test_unknown_command_is_one_line_exit_2() -> None:
    out = subprocess.run([sys.executable, "-m", "strata", "no-such-command"], capture_output=True, text=True)
    assert out.returncode == 2
    assert "Traceback" not in out.stderr
