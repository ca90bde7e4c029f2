"""The datasets of a vectorized batch: one layout for all, stacked along a leading axis.

A vectorized ``fit_many`` calls the residual once for a chunk of fits, each
numeric argument of the datasets stacked along a new leading axis. This
module checks that every dataset has the first one's structure and shapes
(:class:`DataLayout`), stacks a chunk's datasets, and selects the rows of the
fits still running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["DataLayout", "split_dataset", "take_fits"]


def split_dataset(dataset: Any) -> tuple[tuple[Any, ...], dict[str, Any]]:
    """A dataset's positional and keyword arguments (a tuple, or a FitArgs)."""
    if type(dataset) is tuple:
        return dataset, {}
    kws = getattr(dataset, "kws", None)
    if isinstance(kws, dict):  # a FitArgs
        return tuple(dataset.args), kws
    return tuple(dataset), {}


@dataclass(frozen=True)
class DataLayout:
    """The shape every dataset of a vectorized batch must have.

    Attributes
    ----------
    nargs : int
        Positional arguments after ``params``.
    keywords : tuple of str
        Keyword arguments.
    shapes : tuple
        Per argument (positional, then keywords in order): the array's shape
        for numeric arguments (``()`` for a number), None for a non-numeric
        argument, which must be the same in every dataset.
    shared : tuple
        The non-numeric arguments themselves (None for numeric ones).
    ndim : int
        Dimensions of the data: the largest ``len(shape)``.
    """

    nargs: int
    keywords: tuple[str, ...]
    shapes: tuple[tuple[int, ...] | None, ...]
    shared: tuple[Any, ...] = field(compare=False)
    ndim: int

    @classmethod
    def of(cls, dataset: Any) -> DataLayout:
        """The layout of one dataset (the reference the others must match)."""
        args, kws = split_dataset(dataset)
        values = [*args, *kws.values()]
        shapes: list[tuple[int, ...] | None] = []
        shared: list[Any] = []
        for v in values:
            if _numeric(v):
                shapes.append(tuple(np.shape(v)))
                shared.append(None)
            else:
                shapes.append(None)
                shared.append(v)
        ndim = max((len(s) for s in shapes if s is not None), default=0)
        return cls(len(args), tuple(kws), tuple(shapes), tuple(shared), ndim)

    def check(self, index: int, dataset: Any) -> None:
        """Raise ValueError saying how dataset ``index`` differs from this layout."""
        if type(dataset) is tuple and len(dataset) == self.nargs and not self.keywords:
            for v, shape in zip(dataset, self.shapes):  # the common case: arrays of the right shapes
                if not (type(v) is np.ndarray and v.shape == shape and v.dtype.kind in "iuf"):
                    break
            else:
                return
        args, kws = split_dataset(dataset)
        if len(args) != self.nargs or tuple(kws) != self.keywords:
            raise ValueError(
                f"dataset {index} has {len(args)} positional arguments and keywords {list(kws)}, the first dataset "
                f"{self.nargs} and {list(self.keywords)}; a vectorized fit_many needs datasets of one structure")
        for pos, (v, shape, same) in enumerate(zip([*args, *kws.values()], self.shapes, self.shared)):
            if type(v) is np.ndarray and v.shape == shape and v.dtype.kind in "iuf":
                continue  # the common case, without the general checks below
            label = f"argument {pos}" if pos < self.nargs else f"keyword {self.keywords[pos - self.nargs]!r}"
            if shape is None:
                if v is not same and not _equal(v, same):
                    raise ValueError(f"dataset {index}: non-numeric {label} ({_brief(v)}) differs from the first "
                                     f"dataset's ({_brief(same)}); in a vectorized fit_many non-numeric arguments "
                                     "must be the same for every dataset")
            elif not _numeric(v) or tuple(np.shape(v)) != shape:
                got = tuple(np.shape(v)) if _numeric(v) else type(v).__name__
                raise ValueError(
                    f"dataset {index}: {label} has shape {got}, the first dataset's has shape {shape}. A vectorized "
                    "fit_many stacks the datasets into arrays, so they must all have one shape: fit datasets of "
                    "other shapes in separate calls (or pad them and give the padding zero weight), or use "
                    "vectorized=False")

    def check_all(self, datasets: Iterable[Any], check_item: Callable[[int, Any], None] | None = None) -> None:
        """:meth:`check` every dataset (and ``check_item(index, dataset)`` first, for any but a plain tuple).

        A tuple of arrays of the right shapes passes in a few comparisons,
        so that a million datasets are checked in well under a second.
        """
        plain, nargs, shapes = not self.keywords, self.nargs, self.shapes
        for index, dataset in enumerate(datasets):
            if plain and type(dataset) is tuple and len(dataset) == nargs:
                for v, shape in zip(dataset, shapes):
                    if type(v) is not np.ndarray or v.shape != shape or v.dtype.kind not in "iuf":
                        break
                else:
                    continue
            if check_item is not None:
                check_item(index, dataset)
            self.check(index, dataset)

    def stack(self, datasets: Sequence[Any]) -> tuple[tuple[Any, ...], dict[str, Any]]:
        """Stack numeric arguments along a new leading axis (numbers become columns)."""
        n = len(datasets)
        parts = [split_dataset(d) for d in datasets]
        out: list[Any] = []
        for pos, shape in enumerate(self.shapes):
            if shape is None:
                out.append(self.shared[pos])
                continue
            if pos < self.nargs:
                column = [p[0][pos] for p in parts]
            else:
                key = self.keywords[pos - self.nargs]
                column = [p[1][key] for p in parts]
            first = column[0]
            if isinstance(first, np.ndarray) and all(c is first for c in column):
                # one array shared by every dataset (a common x axis): a read-only view, not n copies
                arr = np.broadcast_to(first, (n,) + first.shape)
            else:
                arr = np.stack(column)
            if shape == ():
                arr = arr.reshape((n,) + (1,) * self.ndim)
            out.append(arr)
        return tuple(out[: self.nargs]), dict(zip(self.keywords, out[self.nargs:]))


def _numeric(value: Any) -> bool:
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, float, complex, np.number)):
        return True
    return isinstance(value, np.ndarray) and value.dtype.kind in "iufc" or (
        isinstance(value, (list, tuple)) and np.asarray(value).dtype.kind in "iufc")


def _equal(a: Any, b: Any) -> bool:
    try:
        return bool(a == b)
    except Exception:  # noqa: BLE001 - objects without a boolean equality are not equal
        return False


def _brief(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def take_fits(a: Any, fits: NDArray[np.intp]) -> Any:
    """Rows ``fits`` of a stacked argument (a broadcast view stays one); anything else as it is."""
    if not (isinstance(a, np.ndarray) and a.ndim):
        return a
    if a.strides[0] == 0:  # an argument shared by every dataset stays a broadcast view
        return np.broadcast_to(a[0], (fits.size,) + a.shape[1:])
    return a[fits]
