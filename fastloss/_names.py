"""Loss names and their kernel ids (no Numba here: ``import fastloss`` stays light)."""

from __future__ import annotations

#: The ten loss names of the contract, in a fixed order; ``LOSS_IDS`` maps each to its kernel id.
LOSSES = (
    "logistic",
    "exponential",
    "square",
    "squared_hinge",
    "modified_huber",
    "smooth_hinge",
    "hinge",
    "savage",
    "tangent",
    "multinomial",
)
BINARY_LOSSES = LOSSES[:-1]
#: Binary losses that also take soft labels (probabilities in [0, 1]); the others take 0/1 or -1/+1.
SOFT_LABEL_LOSSES = ("logistic",)
ALIASES = {"log_loss": "logistic"}
LOSS_IDS = {name: i for i, name in enumerate(LOSSES)}
(LOGISTIC, EXPONENTIAL, SQUARE, SQUARED_HINGE, MODIFIED_HUBER,
 SMOOTH_HINGE, HINGE, SAVAGE, TANGENT, MULTINOMIAL) = range(len(LOSSES))


def canonical_name(loss) -> str:
    """Return the canonical loss name for ``loss`` (an alias or a name), or raise ValueError."""
    if isinstance(loss, str):
        name = ALIASES.get(loss, loss)
        if name in LOSS_IDS:
            return name
    valid = ", ".join(repr(n) for n in LOSSES + tuple(ALIASES))
    raise ValueError(f"unknown loss {loss!r}; valid names are {valid}")
