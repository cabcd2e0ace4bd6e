"""Training jobs in the sidebar: the running job's live progress, loss curve and replay frame, and the other
runs of the architecture on this server."""
from __future__ import annotations

import time

import streamlit as st

from seqviz import figures, training
from seqviz.ui.widgets import POLL_SECONDS, wide_chart


def duration(s: float) -> str:
    return f"{s:.0f} s" if s < 90 else f"{s // 60:.0f} min {s % 60:02.0f} s"


def job_status(job: training.Job) -> str:
    """One line that tells the truth about a job now: its phase, epoch and batch, elapsed and left."""
    now = (job.finished or time.time()) - job.started
    place = job.position() if job.running and not job.cancelling else None
    if place is not None:                          # waiting for a worker: its place and about when it starts
        wait = job.wait_seconds()
        ahead = "next to start" if place == 1 else f"{place - 1} runs ahead of it"
        return (f"Queued: {ahead} · starts in ~{duration(wait)}" if wait else f"Queued: {ahead}") + \
            f" · waiting {duration(now)}"
    parts = [job.phase]
    if job.worker_name and job.worker_name not in job.phase:          # trained on a pool's worker (seqviz.pool)
        parts.append(f"on {job.worker_name}")
    if job.batch_loss:
        parts.append(f"epoch {job.epoch + 1}/{job.total_epochs} · batch {job.batch}/{job.steps}"
                     f" · loss {job.batch_loss[-1]:.4f}")
    parts.append(f"{duration(now)} elapsed")
    eta = job.eta() if job.running and not job.cancelling else None
    if eta is not None:
        parts.append(f"~{duration(eta)} left")
    return f"{job.fraction():.0%} · " + " · ".join(parts)


def job_panel(arch_id: str, job_id: str, frame=None) -> None:
    @st.fragment(run_every=POLL_SECONDS)
    def panel():
        job = training.get(job_id)
        p = job.plan
        source = "your data" if p.data_info.get("source") == "upload" else "generated data"
        st.markdown(f"**Training** `{p.name}` ({source})")
        st.progress(job.fraction(), text=job_status(job))
        if job.batch_loss:
            # the losses only: a two-headed model logs ten series, too many for a legend in the sidebar (the
            # model's details show them all once it is trained)
            history = {k: [e[k] for e in job.epochs] for k in (job.epochs[0] if job.epochs else {})
                       if k in ("loss", "val_loss")}
            st.plotly_chart(figures.loss_curve(history, job.batch_loss, job.steps, title="Live training curve"),
                            width="stretch")
        snaps = job.records.get("replay")
        if snaps and frame is not None:     # the probe's main figure after the latest epoch (0 = untrained)
            # the page's own figure in the narrow sidebar: it keeps a readable width and scrolls sideways
            wide_chart(frame(snaps[-1]), key=f"live:{job_id}:{snaps[-1]['epoch']}", min_width=480)
            st.caption(f"Your input after epoch {snaps[-1]['epoch']} of {job.total_epochs}"
                       + (" (the untrained model)" if snaps[-1]["epoch"] == 0 else "")
                       + "; the model's replay will step through every epoch.")
        if job.running:
            st.button("Cancelling…" if job.cancelling else "Cancel", key=f"cancel:{job_id}", width="stretch",
                      on_click=job.cancel, disabled=job.cancelling)
            return
        st.session_state.pop(f"{arch_id}:job", None)
        if st.query_params.get("job") == job_id:
            del st.query_params["job"]
        if job.status == "done":
            st.session_state[f"{arch_id}:model:select"] = p.name
            said = training.outcome(p.arch, p.name, p.data_info)
            st.session_state[f"{arch_id}:flash"] = ("ok", f"Trained {p.name} in {job.finished - job.started:.1f} s"
                                                     + (f": {said}." if said else "."))
        elif job.status == "cancelled":
            st.session_state[f"{arch_id}:flash"] = ("err", "Training cancelled; nothing was saved.")
        else:
            st.session_state[f"{arch_id}:flash"] = ("err", f"Training failed: {job.error}")
        st.rerun(scope="app")

    panel()


def others_panel(arch_id: str) -> None:
    """Training runs of this architecture started elsewhere (another tab, another user, before a reload)."""
    @st.fragment(run_every=POLL_SECONDS)
    def others():
        jobs = training.running(arch_id)
        if not jobs:
            st.rerun(scope="app")   # they ended: their models are in the picker now
        for job in jobs:
            st.markdown(f"**Training on this server** `{job.plan.name}`")
            st.progress(job.fraction(), text=job_status(job))

    others()
