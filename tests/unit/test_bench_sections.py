from pathlib import Path

from benchmarks._sections import write_section


def test_a_section_is_replaced_and_the_others_kept(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text(
        "# B\n\n<!-- a:start -->\nold\n<!-- a:end -->\n\n<!-- b:start -->\nb\n<!-- b:end -->\n"
    )
    write_section(
        "<!-- a:start -->\nnew\n<!-- a:end -->", "<!-- a:start -->", "<!-- a:end -->", path
    )
    assert path.read_text() == (
        "# B\n\n<!-- a:start -->\nnew\n<!-- a:end -->\n\n<!-- b:start -->\nb\n<!-- b:end -->\n"
    )


def test_a_new_section_is_appended(tmp_path: Path) -> None:
    path = tmp_path / "BENCHMARKS.md"
    path.write_text("# B\n")
    write_section("<!-- c:start -->\nc\n<!-- c:end -->", "<!-- c:start -->", "<!-- c:end -->", path)
    assert path.read_text() == "# B\n\n<!-- c:start -->\nc\n<!-- c:end -->\n"
