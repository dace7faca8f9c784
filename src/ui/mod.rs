//! One file per screen; each renders from state only, no IO.
