"""Attacks: one base class (:class:`Attack`), one module per attack."""

from staa.attacks.base import Attack, AttackResult, frozen, margin_loss

__all__ = ["Attack", "AttackResult", "frozen", "margin_loss"]
