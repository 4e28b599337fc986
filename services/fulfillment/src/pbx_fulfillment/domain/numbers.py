"""Phone numbers handed out to orders: one block per number product, numbered in turn
from the block's start, so two orders never get the same number (the block is saved with
the order that takes from it: a lost race takes the next ones instead)."""

from __future__ import annotations

from dataclasses import dataclass
from uuid import NAMESPACE_URL, UUID, uuid5

from eventsourcing.domain import Aggregate, event

_BLOCKS = uuid5(NAMESPACE_URL, "https://cloudpbx.example.jp/fulfillment/number-block")


@dataclass(frozen=True)
class Block:
    #: E.164 up to the subscriber digits
    prefix: str
    #: how many digits follow the prefix
    digits: int
    #: the first and the last subscriber number handed out
    first: int
    last: int

    @property
    def size(self) -> int:
        return self.last - self.first + 1


#: per number SKU (catalog seed) the block fulfillment allocates from; the foreign ones lie
#: in the ranges their regulators keep for fiction (US 555-01XX, Ofcom 020 7946 0XXX)
BLOCKS: dict[str, Block] = {
    "NUM-03": Block("+813", 8, 5000_0000, 99999999),
    "NUM-06": Block("+816", 8, 5000_0000, 99999999),
    "NUM-011": Block("+8111", 7, 500_0000, 8999999),
    "NUM-022": Block("+8122", 7, 500_0000, 9999999),
    "NUM-045": Block("+8145", 7, 500_0000, 9999999),
    "NUM-052": Block("+8152", 7, 500_0000, 9999999),
    "NUM-078": Block("+8178", 7, 500_0000, 9999999),
    "NUM-092": Block("+8192", 7, 500_0000, 9999999),
    "NUM-098": Block("+8198", 7, 500_0000, 9999999),
    "NUM-050": Block("+8150", 8, 5000_0000, 99999999),
    "NUM-0120": Block("+81120", 6, 500_000, 999999),
    "NUM-0800": Block("+81800", 7, 500_0000, 9999999),
    "NUM-0570": Block("+81570", 6, 500_000, 999999),
    "NUM-INTL-US": Block("+1212555", 4, 100, 199),
    "NUM-INTL-GB": Block("+44207946", 4, 0, 999),
}


class NumbersExhaustedError(RuntimeError):
    """A block has no number left: an operator has to add one."""


class NumberBlock(Aggregate):
    class Opened(Aggregate.Created):
        sku: str

    @event(Opened)
    def __init__(self, sku: str) -> None:
        self.sku = sku
        self.used = 0

    @staticmethod
    def create_id(sku: str) -> UUID:
        return uuid5(_BLOCKS, sku)

    def take(self, count: int) -> list[str]:
        block = BLOCKS[self.sku]
        if self.used + count > block.size:
            raise NumbersExhaustedError(self.sku)
        numbers = [
            f"{block.prefix}{block.first + self.used + i:0{block.digits}d}" for i in range(count)
        ]
        self._taken(numbers)
        return numbers

    class Taken(Aggregate.Event):
        numbers: list[str]

    @event(Taken)
    def _taken(self, numbers: list[str]) -> None:
        self.used += len(numbers)
