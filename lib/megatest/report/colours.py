"""Megatest's dashboard colours (gutils.scm, get-color-for-state-status): a COMPLETED
record by its status, any other by its state; the label is the status when COMPLETED
(or ARCHIVED), else the state."""

_COMPLETED = {"PASS": "46f949", "WARN": "ffac0d", "WAIVED": "ffac0d", "SKIP": "e6e600",
              "ABORT": "c624a6"}
_ARCHIVED = {"PASS": "46aa49", "WARN": "c8820d", "WAIVED": "c8820d", "SKIP": "e6e600"}
_STATES = {"LAUNCHED": "657b8e", "CHECK": "ff6432", "REMOTEHOSTSTART": "3282c3",
           "RUNNING": "0983e8", "KILLREQ": "2752ce", "KILLED": "ea6511",
           "NOT_STARTED": "f0f0f0"}
FAIL = "fd2131"
OTHER = "c0c0c0"


def colour(state, status):
    """(#rrggbb, label) of a record."""
    if state == "COMPLETED":
        return "#" + _COMPLETED.get(status, FAIL), status
    if state == "ARCHIVED":
        return "#" + _ARCHIVED.get(status, "b42131"), status
    if state == "NOT_STARTED" and status == "CHECK":
        return "#e6e600", state
    return "#" + _STATES.get(state, OTHER), state


def text_colour(background):
    """Black or white, whichever reads better on BACKGROUND (#rrggbb)."""
    r, g, b = (int(background[i:i + 2], 16) for i in (1, 3, 5))
    return "#000" if (r * 299 + g * 587 + b * 114) / 1000 > 140 else "#fff"
