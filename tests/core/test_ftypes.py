"""GGUF file-type names come from one table, read from llama-cpp-python's constants."""

from probllms_tui.core.ftypes import ftype_name, llama_ftypes


def test_the_names_people_use():
    assert [ftype_name(n) for n in (0, 1, 7, 15, 18, 32)] == ["F32", "F16", "Q8_0", "Q4_K_M", "Q6_K", "BF16"]


def test_absent_and_unknown_types():
    assert ftype_name(None) == ""
    assert ftype_name(999) == "999"  # a type newer than the linked llama.cpp: still shown


def test_the_exporter_and_the_registry_read_one_table():
    from probllms_train.export.quant_types import parse_quants

    quants, keep_f16 = parse_quants("q4_k_m,q8_0,f16")
    assert [ftype_name(llama_ftypes()[q]) for q in quants] == ["Q4_K_M", "Q8_0"] and keep_f16
