"""The symbols of one problem, and scalar entries derived from vector forms.

With one neuron in every layer a derivation uses the course's scalar names (x, z1, a1,
z2, y, t, δ₂ and the problem's parameter names w1, w2, b); otherwise Nielsen's indexed
names (zˡⱼ, aˡⱼ, x_k = a⁰_k, wˡⱼₖ, bˡⱼ, δˡⱼ, tⱼ). Each equation is written once, in vector
form (δˡ = ((wˡ⁺¹)ᵀ δˡ⁺¹) ⊙ f′(zˡ)); :meth:`Names.entry` turns it into the scalar form of
one entry (δˡⱼ = (Σₖ wˡ⁺¹ₖⱼ δˡ⁺¹ₖ)·f′(zˡⱼ), the sum written out), so the two forms cannot
disagree.
"""

from __future__ import annotations

from typing import Callable

from ..expr import Add, Call, Expr, Hadamard, MatMul, Matrix, Mul, Num, Partial, Sym, Transpose, Vector
from ..problem import Problem
from ..solver import Parameter

Index = tuple[int, ...]


class TooManyTerms(Exception):
    """An entry's sum has more terms than a derivation writes out."""


def index_text(*indices: int) -> str:
    """1-based subscripts, comma-separated when an index has two digits (w²₁,₁₂)."""
    parts = [str(i + 1) for i in indices]
    return ("," if any(len(p) > 1 for p in parts) else "").join(parts)


class Names:
    """The symbols of one problem, with their shapes, and the entries of its vectors."""

    def __init__(self, problem: Problem, max_terms: int = 12) -> None:
        self.problem = problem
        self.L = len(problem.layers)
        self.chain = all(layer.size == 1 for layer in problem.layers)
        self.inputs = problem.inputs.shape[1]
        self.multi = len(problem.inputs) > 1
        self.max_terms = max_terms
        self.penalised = False          # regularization: the cost before the penalty is C₀
        self._shapes: dict[Expr, tuple[int, ...]] = {}
        self._entries: dict[Expr, Callable[..., Sym]] = {}
        self._located: dict[Expr, tuple[Expr, Index]] = {}

    # -- sizes ---------------------------------------------------------------------
    def size(self, l: int) -> int:
        return self.inputs if l == 0 else self.problem.layers[l - 1].size

    def _vector(self, symbol: Sym, shape: tuple[int, ...], entry: Callable[..., Sym]) -> Sym:
        self._shapes[symbol] = shape
        self._entries[symbol] = entry
        return symbol

    def _entry(self, vector: Sym, symbol: Sym, index: Index) -> Sym:
        self._located.setdefault(symbol, (vector, index))
        return symbol

    # -- the quantities of a layer -------------------------------------------------------
    def z(self, l: int, j: int | None = None) -> Sym:
        vector = self._vector(Sym("z", sup=str(l)), (self.size(l),), lambda j: self.z(l, j))
        if j is None:
            return vector
        symbol = Sym(f"z{l}") if self.chain else Sym("z", index_text(j), str(l))
        return self._entry(vector, symbol, (j,))

    def a(self, l: int, j: int | None = None) -> Sym:
        if l == 0:
            return self.x(j)
        vector = self._vector(Sym("a", sup=str(l)), (self.size(l),), lambda j: self.a(l, j))
        if j is None:
            return vector
        if self.chain:
            symbol = Sym("y") if l == self.L else Sym(f"a{l}")
        else:
            symbol = Sym("a", index_text(j), str(l))
        return self._entry(vector, symbol, (j,))

    def x(self, k: int | None = None) -> Sym:
        vector = self._vector(Sym("x"), (self.inputs,), lambda k: self.x(k))
        if k is None:
            return vector
        if self.chain:
            symbol = Sym("x") if self.inputs == 1 else Sym(f"x{k + 1}")
            if self.inputs == 1:
                self._located[symbol] = (vector, (k,))
                return symbol
        else:
            symbol = Sym("x", index_text(k))
        return self._entry(vector, symbol, (k,))

    def t(self, j: int | None = None) -> Sym:
        vector = self._vector(Sym("t"), (self.size(self.L),), lambda j: self.t(j))
        if j is None:
            return vector
        if self.chain or self.size(self.L) == 1:
            self._located[Sym("t")] = (vector, (0,))
            return Sym("t")
        return self._entry(vector, Sym("t", index_text(j)), (j,))

    def delta(self, l: int, j: int | None = None) -> Sym:
        vector = self._vector(Sym("delta", sup=str(l)), (self.size(l),), lambda j: self.delta(l, j))
        if j is None:
            return vector
        symbol = Sym("delta", str(l)) if self.chain else Sym("delta", index_text(j), str(l))
        return self._entry(vector, symbol, (j,))

    def w(self, l: int, j: int | None = None, k: int | None = None) -> Sym:
        shape = self.problem.layers[l - 1].weights.shape
        vector = self._vector(Sym("w", sup=str(l)), shape, lambda j, k: self.w(l, j, k))
        if j is None:
            return vector
        symbol = (Sym(self.problem.layers[l - 1].weight_names.name(j, k)) if self.chain
                  else self.w_indexed(l, j, k))
        return self._entry(vector, symbol, (j, k))

    def b(self, l: int, j: int | None = None) -> Sym:
        vector = self._vector(Sym("b", sup=str(l)), (self.size(l),), lambda j: self.b(l, j))
        if j is None:
            return vector
        names = self.problem.layers[l - 1].bias_names
        symbol = Sym(names.name(j)) if self.chain else self.b_indexed(l, j)
        return self._entry(vector, symbol, (j,))

    @staticmethod
    def w_indexed(l: int, j: int, k: int) -> Sym:
        return Sym("w", index_text(j, k), str(l))

    @staticmethod
    def b_indexed(l: int, j: int) -> Sym:
        return Sym("b", index_text(j), str(l))

    def parameter(self, p: Parameter) -> Sym:
        return self.w(p.layer, *p.index) if p.kind == "weights" else self.b(p.layer, p.index[0])

    def parameter_indexed(self, p: Parameter) -> Sym:
        return (self.w_indexed(p.layer, *p.index) if p.kind == "weights"
                else self.b_indexed(p.layer, p.index[0]))

    def cost(self, x: int | None = None) -> Sym:
        if x is not None and self.multi:
            return Sym("C", str(x + 1))
        return Sym("C", "0") if self.penalised else Sym("C")

    # -- vectors and their entries ---------------------------------------------------------
    def locate(self, symbol: Expr) -> tuple[Expr, Index] | None:
        """(the vector or matrix, the index) of an entry symbol made by this object."""
        return self._located.get(symbol)

    def shape(self, tree: Expr) -> tuple[int, ...]:
        """The shape of a vector-form tree: () for a scalar, (n,) a (column) vector,
        (1, n) a row, (m, n) a matrix."""
        if tree in self._shapes:
            return self._shapes[tree]
        if isinstance(tree, (Num, Sym)):
            return ()
        if isinstance(tree, Transpose):
            inner = self.shape(tree.operand)
            return (1, inner[0]) if len(inner) == 1 else tuple(reversed(inner))
        if isinstance(tree, MatMul):
            left, right = self.shape(tree.left), self.shape(tree.right)
            if len(left) == 1 and len(right) == 2:
                return (left[0], right[1])
            return left[:1] + right[1:]
        if isinstance(tree, Partial):
            return self.shape(tree.wrt)
        if isinstance(tree, Call):
            return self.shape(tree.args[0])
        if isinstance(tree, Vector):
            return (len(tree.items),)
        if isinstance(tree, Matrix):
            return (len(tree.rows), len(tree.rows[0]) if tree.rows else 0)
        shapes = [self.shape(child) for child in _operands(tree)]
        return max(shapes, key=len, default=())

    def entry(self, tree: Expr, index: Index) -> Expr:
        """The scalar form of entry ``index`` (0-based) of a vector-form tree.
        Raises TooManyTerms when a product's sum is longer than ``max_terms``."""
        if not self.shape(tree):
            return tree
        if tree in self._entries:
            return self._entries[tree](*index)
        if isinstance(tree, Transpose):
            inner = self.shape(tree.operand)
            return self.entry(tree.operand, (index[1],) if len(inner) == 1 else (index[1], index[0]))
        if isinstance(tree, MatMul):
            left, right = self.shape(tree.left), self.shape(tree.right)
            if len(left) == 1 and len(right) == 2:          # outer product: a column times a row
                return Mul(self.entry(tree.left, index[:1]), self.entry(tree.right, (0, index[1])))
            inner = left[-1]
            if inner > self.max_terms:
                raise TooManyTerms(inner)
            rest = index[1:]
            terms = [Mul(self.entry(tree.left, (index[0], k)), self.entry(tree.right, (k, *rest)))
                     for k in range(inner)]
            total = terms[0]
            for term in terms[1:]:
                total = Add(total, term)
            return total
        if isinstance(tree, Hadamard):
            return Mul(self.entry(tree.left, index), self.entry(tree.right, index))
        if isinstance(tree, Partial):
            return Partial(tree.of, self.entry(tree.wrt, index))
        if isinstance(tree, Call):
            return Call(tree.name, tuple(self.entry(arg, index) for arg in tree.args), tree.derivative)
        if isinstance(tree, (Vector, Matrix)):
            return tree.items[index[0]] if isinstance(tree, Vector) else tree.rows[index[0]][index[1]]
        from ..expr import _rebuild

        return _rebuild(tree, [self.entry(child, index) for child in _children_of(tree)])

    def vectorize(self, tree: Expr) -> Expr:
        """A scalar rule written with vector symbols, in vector notation: a product of two
        vectors is the elementwise ⊙ (σ′ = a·(1 − a) becomes a ⊙ (1 − a))."""
        from ..expr import _children, _rebuild

        children = _children(tree)
        if not children:
            return tree
        tree = _rebuild(tree, [self.vectorize(child) for child in children])
        if isinstance(tree, Mul) and self.shape(tree.left) and self.shape(tree.right):
            return Hadamard(tree.left, tree.right)
        return tree


def _operands(tree: Expr) -> tuple[Expr, ...]:
    from ..expr import _children

    return _children(tree)


def _children_of(tree: Expr) -> list[Expr]:
    return list(_operands(tree))

