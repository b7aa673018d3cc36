import pytest

from strata.insar.errors import ReaderError
from strata.insar.io import READERS, WRITERS, open_stack, write_stack_as


def test_every_input_format_has_a_reader_and_a_writer():
    formats = {"licsar", "aria", "mintpy", "gamma"}
    assert formats <= set(READERS)
    assert set(WRITERS) == formats


def test_unknown_format_names_the_known_ones(tmp_path):
    with pytest.raises(ReaderError, match="unknown stack format 'isce'.*licsar"):
        open_stack(tmp_path, "isce")


def test_unknown_writer(short, tmp_path):
    with pytest.raises(ReaderError, match="no writer for stack format 'isce'"):
        write_stack_as(short.stack, tmp_path, "isce")
