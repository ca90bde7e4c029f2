"""Names to plugin items (engines, probability functions, ...): every claimant kept, and the selection rule.

Several distributions may claim one name; none of them is dropped. Each item is
always selectable by its qualified name ``'<distribution>:<name>'`` (the
distribution compared as packaging does: case-insensitive, ``-``, ``_`` and
``.`` alike). A bare name selects, in this order:

1. the items whose own name it is; else the items that declare it as an alias
   (so an alias never shadows another item's real name);
2. of those, the only one, or else the one from a distribution fitcore ships
   (:data:`fitcore.shipped.SHIPPED`) when exactly one claimant is;
3. otherwise nothing: the name is ambiguous and the caller lists the qualified
   names.

Names are matched case-insensitively (specs declare them in lower case), so
lmfit's ``'L-BFGS-B'`` finds the alias ``'l-bfgs-b'``.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Generic, Protocol, TypeVar

from .shipped import is_shipped, normalize

__all__ = ["Catalog", "Item", "Lookup"]


class Item(Protocol):
    """What the catalog needs of an item."""

    @property
    def name(self) -> str:
        """The item's own name."""

    @property
    def aliases(self) -> tuple[str, ...]:
        """Other names that select it."""

    @property
    def distribution(self) -> str:
        """The distribution that provides it."""


T = TypeVar("T", bound=Item)


class Lookup(Generic[T]):
    """The outcome of a lookup: the selected item (or None) and every item the name matched."""

    def __init__(self, selected: T | None, claimants: list[T], via_alias: bool = False) -> None:
        self.selected = selected
        self.claimants = claimants
        self.via_alias = via_alias

    @property
    def ambiguous(self) -> bool:
        """Several items match and the rule picks none of them."""
        return self.selected is None and len(self.claimants) > 1


def qualified(item: Item) -> str:
    """``'<distribution>:<name>'``."""
    return f"{item.distribution}:{item.name}"


class Catalog(Generic[T]):
    """Every item of one kind, in registration order, with lookup by bare, aliased or qualified name."""

    def __init__(self) -> None:
        self._items: list[T] = []

    def __iter__(self) -> Iterator[T]:
        return iter(list(self._items))

    def __len__(self) -> int:
        return len(self._items)

    def add(self, item: T) -> None:
        """Add an item (after :meth:`same_distribution` found no clash)."""
        self._items.append(item)

    def remove(self, item: T) -> None:
        """Remove an item added earlier."""
        self._items.remove(item)

    def same_distribution(self, item: Item) -> T | None:
        """Return an item of the same distribution already using one of ``item``'s names, if any."""
        dist = normalize(item.distribution)
        names = {item.name, *item.aliases}
        for other in self._items:
            if normalize(other.distribution) == dist and names & {other.name, *other.aliases}:
                return other
        return None

    def claimants(self, name: str) -> list[T]:
        """Return the items whose own name is ``name``, or if none, those declaring it as an alias."""
        return self.lookup(name).claimants

    def lookup(self, query: str) -> Lookup[T]:
        """Find what ``query`` (bare, alias, or ``'dist:name'``) selects.

        Parameters
        ----------
        query : str
            A name, an alias, or a qualified name ``'<distribution>:<name or alias>'``.

        Returns
        -------
        Lookup
            ``selected`` is the item to use (None when unknown or ambiguous);
            ``claimants`` every item the name matched.
        """
        dist, sep, name = query.rpartition(":")
        key = name.strip().lower()
        pool = self._items
        if sep:
            want = normalize(dist)
            pool = [i for i in pool if normalize(i.distribution) == want]
        hits = [i for i in pool if i.name == key]
        via_alias = not hits
        if via_alias:
            hits = [i for i in pool if key in i.aliases]
        if len(hits) == 1:
            return Lookup(hits[0], hits, via_alias)
        own = [i for i in hits if is_shipped(i.distribution)]
        return Lookup(own[0] if len(own) == 1 else None, hits, via_alias)

    def conflicts(self) -> dict[str, list[T]]:
        """Every name (or alias nobody has as a real name) claimed by more than one item."""
        names = {n for i in self._items for n in (i.name, *i.aliases)}
        out = {}
        for n in sorted(names):
            hits = self.claimants(n)
            if len(hits) > 1:
                out[n] = hits
        return out

    def shadowed_aliases(self, item: Item) -> list[str]:
        """Return the aliases of ``item`` that another item has as its real name (they select that item)."""
        return [a for a in item.aliases if any(o.name == a for o in self._items if o is not item)]
