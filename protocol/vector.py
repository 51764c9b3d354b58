"""Version vectors: what a replica holds, as the highest contiguous seq per author."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from .errors import MalformedPayload


class VersionVector(Mapping[bytes, int]):
    """An immutable {author public key: highest contiguous seq}; absent means 0."""

    __slots__ = ("_seqs",)

    def __init__(self, seqs: Mapping[bytes, int] | None = None) -> None:
        self._seqs = {a: s for a, s in (seqs or {}).items() if s > 0}

    def __getitem__(self, author: bytes) -> int:
        return self._seqs[author]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._seqs)

    def __len__(self) -> int:
        return len(self._seqs)

    def get_seq(self, author: bytes) -> int:
        """The author's highest contiguous seq here; 0 for an author never seen."""
        return self._seqs.get(author, 0)

    def dominates(self, other: Mapping[bytes, int]) -> bool:
        """True when this vector has everything `other` has."""
        return all(self.get_seq(a) >= s for a, s in other.items())

    def merged(self, other: Mapping[bytes, int]) -> VersionVector:
        """The pointwise maximum: what two replicas hold between them."""
        out = dict(self._seqs)
        for a, s in other.items():
            out[a] = max(out.get(a, 0), s)
        return VersionVector(out)

    def to_wire(self) -> dict[bytes, int]:
        """The vector as a CBOR-ready map."""
        return dict(self._seqs)

    @classmethod
    def from_wire(cls, value: object) -> VersionVector:
        """A vector from a peer: a map of 32-byte keys to non-negative seqs."""
        if not isinstance(value, dict):
            raise MalformedPayload("version vector must be a map")
        for a, s in value.items():
            if not isinstance(a, bytes) or len(a) != 32 or type(s) is not int or s < 0:
                raise MalformedPayload("version vector maps 32-byte authors to seq numbers")
        return cls(value)

    def __eq__(self, other: object) -> bool:
        if isinstance(other, VersionVector):
            return self._seqs == other._seqs
        return NotImplemented

    def __hash__(self) -> int:
        return hash(frozenset(self._seqs.items()))

    def __repr__(self) -> str:
        inner = ", ".join(f"{a[:4].hex()}:{s}" for a, s in sorted(self._seqs.items()))
        return f"VersionVector({inner})"
