"""Operators: the rota of shifts (who is scheduled when)."""
