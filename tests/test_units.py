from lintseq.engine.units import normalize, split_lines, split_units


def unit_texts(code):
    p = split_units(code)
    return [p.text([u.index]) for u in p.units]


def test_logical_lines_are_units():
    code = (
        "import os\n"
        "\n"
        "# a comment\n"
        "def f(a,\n"
        "      b):\n"
        '    """Doc\n'
        '    string."""\n'
        "    x = [1,\n"
        "         2]  # trailing\n"
        "    if x: return a\n"
        "    y = 1 + \\\n"
        "        2\n"
        "    return y\n"
        "# end\n"
    )
    texts = unit_texts(code)
    assert texts == [
        "import os\n",
        "\n# a comment\ndef f(a,\n      b):\n",
        '    """Doc\n    string."""\n',
        "    x = [1,\n         2]  # trailing\n",
        "    if x: return a\n",
        "    y = 1 + \\\n        2\n",
        "    return y\n# end\n",
    ]
    assert "".join(texts) == code


def test_blocks_and_depths():
    code = "class A:\n    def f(self):\n        if 1:\n            pass\n        return 2\n    x = 3\ny = 4\n"
    p = split_units(code)
    assert [u.depth for u in p.units] == [0, 1, 2, 3, 2, 1, 0]
    assert list(p.block(0)) == [1, 2, 3, 4, 5]
    assert list(p.block(1)) == [2, 3, 4]
    assert list(p.block(2)) == [3]
    assert list(p.block(3)) == []
    assert list(p.block(6)) == []


def test_tabs_and_crlf():
    code = "def f():\r\n\tif 1:\r\n\t\treturn 1\r\n\treturn 2"
    p = split_units(code)
    assert [u.depth for u in p.units] == [0, 1, 2, 1]
    assert p.text(range(4)) == normalize(code) == "def f():\n\tif 1:\n\t\treturn 1\n\treturn 2\n"


def test_split_lines_only_on_newline():
    code = "s = 'a\x0cb\u2028c'\n"
    assert split_lines(code) == ["s = 'a\x0cb\u2028c'"]
    assert split_units(code).text([0]) == code


def test_comment_only_has_no_units():
    assert split_units("# just a comment\n\n").units == ()
    assert split_units("").units == ()
