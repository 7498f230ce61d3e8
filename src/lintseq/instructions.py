"""The instruction a function is asked for with: HumanEvalPack's wording (Muennighoff et al.
2023), "Write a Python function `SIGNATURE` to solve the following problem:\\nDOCSTRING".

HumanEval's problems (`lintseq.evaluation.problems`) and the functions `lintseq mine` extracts
(`lintseq.mining.extract`) are both phrased with it, so a model trained on mined rows is
asked for HumanEval's functions in the words it was trained on.
"""

from __future__ import annotations

import ast

FuncDef = ast.FunctionDef | ast.AsyncFunctionDef


def signature(fn: FuncDef) -> str:
    """`name(args) -> returns`, as `ast.unparse` writes them."""
    ret = f" -> {ast.unparse(fn.returns)}" if fn.returns else ""
    return f"{fn.name}({ast.unparse(fn.args)}){ret}"


def function_instruction(fn: FuncDef, docstring: str) -> str:
    return f"Write a Python function `{signature(fn)}` to solve the following problem:\n{docstring}"
