"""Whether a run may run its model's own Python code, and who said so. Stdlib only.

A run folder is data: plan.json (its `trust_remote_code`, or its base plan's `model.trust_remote_code`) can be
written by anyone who hands the folder over, so it may ask for the model's code (transformers' auto_map:
configuration_*.py, modeling_*.py, tokenization_*.py) but never grants it. The grant is the user's
--trust-remote-code on the command line of the command that starts the run's processes, and it travels
only down the processes lorplan itself starts from that command, on their command lines (TRUST_FLAG): the
scheduler hands it to the probes it launches, the ladder's driver to the schedulers it starts. A process
started without it (a `lorplan probe status` that restarts a killed scheduler, a driver started again by
`lorplan recommend --run`) runs no such run: the command says how to resume it (RemoteCodeRefused).
"""

from __future__ import annotations

from lorplan.core.errors import BadInput, own_code_refusal

TRUST_FLAG = "--trust-remote-code"


class RemoteCodeRefused(BadInput):
    """A run that asks for its model's own code would have been (re)started without the user's
    --trust-remote-code. Its message is one line naming the run and the command that resumes it."""


def asks_remote_code(plan) -> str | None:
    """The model a run plan (lorplan.probe.runs.RunPlan) asks to run the own code of, or None when it asks for
    none: its trust_remote_code, or its base plan's model.trust_remote_code (what a probe of a planned run
    loads with)."""
    if plan.trust_remote_code or plan.base_model().get("trust_remote_code") is True:
        return plan.model_name() or "its model"
    return None


def run_refusal(run_id: str, model: str, how: str) -> str:
    """The one wording of a refusal to run a run's model's own code (core.errors.own_code_refusal, as a model's or
    a tokenizer's): `how` says what the user does to give the consent."""
    return own_code_refusal(f"run {run_id} asks to run the model's own Python code ({model})", how)


def refusal(run_id: str, model: str, resume: str | None, what: str = "its probes") -> str:
    """The one line that says a run asks for the model's own code and how the user resumes it: `what` starts
    again with the command `resume` (None: from a command given TRUST_FLAG)."""
    how = f"with `{resume}`" if resume else f"only from a command given {TRUST_FLAG}"
    return run_refusal(run_id, model, f"{what} start again {how}")


def check_consent(run, trusted: bool, resume: str | None, what: str = "its probes", plan=None) -> None:
    """Raise RemoteCodeRefused when `run` (a RunDir) asks for its model's own code and the current process was
    not given the user's consent (`trusted`). `resume`: the command that resumes it (ending in TRUST_FLAG);
    plan: the run's plan as already read (default: read now)."""
    refuse_untrusted(run.id, asks_remote_code(plan if plan is not None else run.plan()), trusted, resume, what)


def refuse_untrusted(run_id: str, model: str | None, trusted: bool, resume: str | None, what: str) -> None:
    """RemoteCodeRefused (refusal's line) when the run asks for `model`'s own code (not None) without `trusted`."""
    if model is not None and not trusted:
        raise RemoteCodeRefused(refusal(run_id, model, resume, what))


def status_command(run_id: str) -> str:
    """The command that starts a run's probes again with the user's consent (the default `resume`)."""
    return f"lorplan probe status {run_id} {TRUST_FLAG}"


def flag(trusted: bool) -> list[str]:
    """The command-line words that hand the consent to a child process lorplan starts."""
    return [TRUST_FLAG] if trusted else []


__all__ = ["TRUST_FLAG", "RemoteCodeRefused", "asks_remote_code", "check_consent", "flag", "refusal", "refuse_untrusted", "run_refusal",
           "status_command"]
