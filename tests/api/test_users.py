"""``strata users add|list|revoke`` and the user store behind them."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from strata.api.errors import RateLimitError
from strata.api.users import UserStore, engine_for
from strata.cli import build_app
from strata.errors import InputError
from strata.settings import Settings


def test_users_cli_add_list_revoke(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STRATA_DATA_DIR", str(tmp_path))
    runner = CliRunner()
    app = build_app()
    added = runner.invoke(app, ["users", "add", "eve", "--role", "admin", "--collection", "secret"])
    assert added.exit_code == 0, added.output
    key = added.stdout.strip().splitlines()[-1]
    store = UserStore(engine_for(Settings(data_dir=tmp_path).catalog_url))
    user = store.authenticate(key)
    assert user is not None and user.is_admin and user.can_read("secret", public=False)
    listed = runner.invoke(app, ["users", "list"])
    assert "eve" in listed.stdout and "active" in listed.stdout
    assert runner.invoke(app, ["users", "revoke", "eve"]).exit_code == 0
    assert store.authenticate(key) is None
    assert "revoked" in runner.invoke(app, ["users", "list"]).stdout


def test_user_store_rejects_bad_input_and_counts_quota(tmp_path: Path) -> None:
    store = UserStore(engine_for(f"sqlite:///{tmp_path / 'c.sqlite'}"))
    store.add("frank")
    with pytest.raises(InputError, match="exists"):
        store.add("frank")
    with pytest.raises(InputError, match="role"):
        store.add("gina", role="root")
    store.charge_download("user:frank", 600, quota=1000)
    with pytest.raises(RateLimitError) as refused:
        store.charge_download("user:frank", 500, quota=1000)
    assert 0 < refused.value.retry_after <= 86_400
    assert store.downloaded_today("user:frank") == 600
