import pytest

from strata.insar.config import ConfigError, InputOptions, InsarConfig
from strata.insar.errors import ReaderError
from strata.insar.io import READERS, WRITERS, open_stack, stack_formats, write_stack_as


def test_every_input_format_has_a_reader_and_a_writer():
    formats = {"licsar", "aria", "mintpy", "gamma"}
    assert formats <= set(READERS)
    assert set(WRITERS) == formats


def test_the_configuration_takes_every_registered_format():
    """The workflow's input.format is validated against the reader registry, the one list of formats."""
    assert set(READERS) <= set(stack_formats())
    description = InputOptions.model_fields["format"].description
    for name in stack_formats():
        assert InsarConfig.from_dict({"input": {"format": name}}).input.format == name
        assert f"{name} (" in description
    with pytest.raises(ConfigError, match="input.format: .*unknown stack format 'isce'.*ifg"):
        InsarConfig.from_dict({"input": {"format": "isce"}})


def test_unknown_format_names_the_known_ones(tmp_path):
    with pytest.raises(ReaderError, match="unknown stack format 'isce'.*licsar"):
        open_stack(tmp_path, "isce")


def test_unknown_writer(short, tmp_path):
    with pytest.raises(ReaderError, match="no writer for stack format 'isce'"):
        write_stack_as(short.stack, tmp_path, "isce")


def test_third_party_reader_through_an_entry_point(short, tmp_path, monkeypatch):
    # a real installed distribution (dist-info on sys.path) declaring a reader in the group
    (tmp_path / "strata_fake_reader.py").write_text(
        "from strata.insar.io import read_mintpy\n\n"
        "def read(path, **options):\n    return read_mintpy(path, **options)\n"
    )
    info = tmp_path / "strata_fake_reader-0.1.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: strata-fake-reader\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[strata.insar.readers]\nfake = strata_fake_reader:read\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    path = write_stack_as(short.stack, tmp_path / "stack", "mintpy")
    stack = open_stack(path, "fake")
    assert stack.sizes["pair"] == short.stack.sizes["pair"]
    assert stack_formats()[-1] == "fake"
    assert InsarConfig.from_dict({"input": {"format": "fake"}}).input.format == "fake"
