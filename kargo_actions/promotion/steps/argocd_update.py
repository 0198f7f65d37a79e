"""argocd-update: point Argo CD Applications at the promoted revisions, sync them, and wait until they are
Synced and Healthy there."""

from __future__ import annotations

from typing import ClassVar

from pydantic import Field, StrictBool, StrictStr, model_validator

from kargo_actions.argocd.application import (
    HEALTHY,
    PHASE_SUCCEEDED,
    SYNCED,
    Application,
    ApplicationSource,
    HelmParameter,
    SourceHelm,
    SourceKustomize,
    SyncOperation,
    sources_patch,
)
from kargo_actions.argocd.client import AppRef, ArgoCDClient
from kargo_actions.argocd.errors import ArgoCDBusyError
from kargo_actions.freight.identity import normalize_chart_url, normalize_git_url
from kargo_actions.promotion.step_api import (
    NonEmpty,
    StepConfig,
    StepContext,
    StepError,
    StepFailed,
    StepResult,
    TerminalStepError,
)
from kargo_actions.promotion.steps.support.argocd_common import (
    AppTarget,
    WaitSettings,
    Watched,
    argocd_client,
    find_apps,
    ref_of,
    wait_settings,
    wait_until,
)
from kargo_actions.struct import struct

AUTHORIZED_STAGE_ANNOTATION = "kargo.akuity.io/authorized-stage"
# Operation infos that mark a sync as this promotion's (Argo CD keeps them with the operation).
REASON = "Promotion triggered a sync of this Application resource."
PROMOTION_INFO = "kargo-actions/promotion"


class HelmImageUpdate(StepConfig):
    """A Helm parameter to set."""

    key: NonEmpty
    """The parameter's name in the source's helm.parameters (e.g. image.tag)."""
    value: StrictStr
    """Its new value."""


class HelmUpdates(StepConfig):
    """Helm parameters to set on the source."""

    images: list[HelmImageUpdate] = Field(min_length=1)
    """The parameters, each set (added when absent)."""


class KustomizeImageUpdate(StepConfig):
    """A Kustomize image override to set on the source."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The image repository the override is for."""
    tag: StrictStr = ""
    """The tag to use; not together with `digest`."""
    digest: StrictStr = ""
    """The digest to use; not together with `tag`. Neither: the Freight's image of repoURL."""
    new_name: NonEmpty | None = None
    """Another name (repository) for the image."""

    @model_validator(mode="after")
    def _tag_or_digest(self) -> KustomizeImageUpdate:
        if self.tag and self.digest:
            raise ValueError("tag and digest are mutually exclusive")
        return self


class KustomizeUpdates(StepConfig):
    """Kustomize images to set on the source."""

    images: list[KustomizeImageUpdate] | None = Field(default=None, min_length=1)
    """The image overrides, each replacing the source's override of the same image."""


class SourceUpdate(StepConfig):
    """Which source of the app to update (by repoURL, and chart for chart repositories) and how."""

    repo_url: NonEmpty = Field(alias="repoURL")
    """The source's repoURL (git URLs compare normalised)."""
    chart: NonEmpty | None = None
    """The source's chart, for a source from a Helm chart repository."""
    desired_revision: NonEmpty | None = None
    """The revision the source must be synced to; the sync asks for it and the step waits for it."""
    update_target_revision: StrictBool = False
    """Also set the source's targetRevision to desiredRevision (which it then requires)."""
    helm: HelmUpdates | None = None
    """Helm parameters to set."""
    kustomize: KustomizeUpdates | None = None
    """Kustomize images to set."""

    @model_validator(mode="after")
    def _target_needs_desired(self) -> SourceUpdate:
        if self.update_target_revision and self.desired_revision is None:
            raise ValueError("updateTargetRevision: true requires desiredRevision")
        return self


class AppUpdate(AppTarget):
    """An Application (or the apps a selector matches) and the updates to its sources."""

    sources: list[SourceUpdate] | None = Field(default=None, min_length=1)
    """Updates to the app's sources; left out, the app is only synced."""


class ArgoCDUpdateConfig(StepConfig):
    """Kargo's ArgoCDUpdateConfig."""

    apps: list[AppUpdate] = Field(min_length=1)
    """The apps to update, sync and wait for."""


@struct(frozen=False)
class _Plan:
    """What to do to one app: its sources as they must become, and the revision each source must reach."""

    ref: AppRef
    app: Application
    sources: list[ApplicationSource]
    desired: dict[int, str]  # source index -> revision

    @property
    def changed(self) -> bool:
        return self.sources != self.app.sources


class ArgoCDUpdate:
    """Kargo's argocd-update, then waiting for the result (Kargo leaves that to the Stage's health checks):

    every app must carry the annotation kargo.akuity.io/authorized-stage: <project>:<stage>; every source
    update must fit every app it names before any app is changed; sources are patched, then a sync to the
    desired revisions starts (unless this promotion's sync to them is already running or done), then the step
    waits until each app's operation succeeded and the app is Synced at the desired revisions and Healthy.
    A failed sync is Errored (a retry syncs again); Degraded after a good state, or the timeout, is Failed.
    """

    name: ClassVar[str] = "argocd-update"
    config_model: ClassVar[type[StepConfig]] = ArgoCDUpdateConfig
    work_dir_free: ClassVar[bool] = True
    outputs: ClassVar[dict[str, str]] = {}

    def run(self, ctx: StepContext, config: ArgoCDUpdateConfig) -> StepResult:
        settings = wait_settings(ctx)
        with argocd_client(ctx) as client:
            plans = [plan for entry in config.apps for plan in self._plans(ctx, client, entry)]
            watched = [self._start(ctx, client, plan, settings) for plan in plans]
            by_ref = {str(p.ref): p for p in plans}
            wait_until(
                ctx,
                client,
                watched,
                lambda w: _arrived(w, by_ref[str(w.ref)].desired),
                settings=settings,
                waiting_for=lambda w: _goal(by_ref[str(w.ref)].desired),
            )
        names = ", ".join(f"{p.ref} at {_revisions(p.desired)}" for p in plans)
        return StepResult(message=f"synced and healthy: {names}")

    def _plans(self, ctx: StepContext, client: ArgoCDClient, entry: AppUpdate) -> list[_Plan]:
        # every app is checked before any is changed, so a bad match leaves all of them as they were
        plans = []
        for app in find_apps(client, entry):
            _authorize(ctx, app)
            sources = app.sources
            if entry.sources and not sources:
                raise TerminalStepError(f"application {app.qualified_name} has no sources to update")
            desired: dict[int, str] = {}
            for number, update in enumerate(entry.sources or ()):
                index = _source_index(app, update, number)
                sources[index] = _updated(ctx, sources[index], update, number)
                if update.desired_revision is not None:
                    desired[index] = update.desired_revision
            plans.append(_Plan(ref_of(app, entry), app, sources, desired))
        return plans

    def _start(self, ctx: StepContext, client: ArgoCDClient, plan: _Plan, settings: WaitSettings) -> Watched:
        watched = Watched(plan.ref, plan.app)
        watched.observe(plan.app)
        running, done = _own_operation(plan.app, plan.desired, ctx.promotion)
        if (running or done) and not plan.changed:
            return watched  # a retry of this step: its sync is under way or finished; wait for the result
        if _busy(plan.app):
            _wait_for_other_operation(ctx, client, watched, settings)
        if plan.changed:
            client.patch_application(plan.ref, sources_patch(plan.app, plan.sources))
        while True:
            try:
                watched.observe(_sync(ctx, client, plan))
                return watched
            except ArgoCDBusyError:
                # an operation began after our look (an automated sync of the patched app): wait it out
                _wait_for_other_operation(ctx, client, watched, settings)


def _wait_for_other_operation(
    ctx: StepContext, client: ArgoCDClient, watched: Watched, settings: WaitSettings
) -> None:
    """Argo CD runs one operation at a time: wait until the app's (not this promotion's) is over."""
    watched.observe(client.get_application(watched.ref))
    wait_until(
        ctx,
        client,
        [watched],
        lambda w: not _busy(w.app),
        settings=settings,
        waiting_for=lambda _w: "the running operation (not this promotion's) to finish",
    )
    watched.done = False  # that wait is over; the wait for this sync's result is still to come


def _sync(ctx: StepContext, client: ArgoCDClient, plan: _Plan) -> Application:
    """Start this promotion's sync to the desired revisions (per source position for a multi-source app)."""
    infos = {"Reason": REASON, **({PROMOTION_INFO: ctx.promotion} if ctx.promotion else {})}
    if plan.app.multi_source and plan.desired:
        positions = sorted(plan.desired)
        return client.sync_application(
            plan.ref,
            revisions=[plan.desired[i] for i in positions],
            source_positions=[i + 1 for i in positions],
            infos=infos,
        )
    return client.sync_application(plan.ref, revision=plan.desired.get(0), infos=infos)


def _authorize(ctx: StepContext, app: Application) -> None:
    wanted = f"{ctx.project}:{ctx.stage}"
    found = app.metadata.annotations.get(AUTHORIZED_STAGE_ANNOTATION)
    if found != wanted:
        said = f"it says {found!r}" if found is not None else "it has none"
        raise StepFailed(
            f"Argo CD Application {app.qualified_name} does not permit mutation by Stage {ctx.stage!r} of "
            f"project {ctx.project!r}: annotate it with {AUTHORIZED_STAGE_ANNOTATION}: {wanted} ({said})"
        )


def _source_index(app: Application, update: SourceUpdate, number: int) -> int:
    for index, source in enumerate(app.sources):
        if update.chart is not None:
            if source.chart == update.chart and normalize_chart_url(source.repo_url) == normalize_chart_url(
                update.repo_url
            ):
                return index
        elif not source.chart and normalize_git_url(source.repo_url) == normalize_git_url(update.repo_url):
            return index
    have = ", ".join(s.repo_url + (f" (chart {s.chart})" if s.chart else "") for s in app.sources)
    wanted = update.repo_url + (f" (chart {update.chart})" if update.chart else "")
    raise TerminalStepError(
        f"config.apps[].sources[{number}]: application {app.qualified_name} has no source {wanted}; its "
        f"sources: {have}"
    )


def _updated(
    ctx: StepContext, source: ApplicationSource, update: SourceUpdate, number: int
) -> ApplicationSource:
    changes: dict[str, object] = {}
    if update.update_target_revision and update.desired_revision is not None:
        changes["target_revision"] = update.desired_revision
    if update.helm is not None:
        params = list(source.helm.parameters or []) if source.helm else []
        for helm_image in update.helm.images:
            at = next((i for i, p in enumerate(params) if p.name == helm_image.key), None)
            if at is None:
                params.append(HelmParameter(name=helm_image.key, value=helm_image.value))
            else:
                params[at] = params[at].model_copy(update={"value": helm_image.value})
        helm = source.helm or SourceHelm()
        changes["helm"] = helm.model_copy(update={"parameters": params})
    if update.kustomize is not None and update.kustomize.images:
        images = list(source.kustomize.images or []) if source.kustomize else []
        for image in update.kustomize.images:
            entry = _kustomize_image(ctx, image, number)
            at = next((i for i, e in enumerate(images) if _image_name(e) == image.repo_url), None)
            if at is None:
                images.append(entry)
            else:
                images[at] = entry
        kustomize = source.kustomize or SourceKustomize()
        changes["kustomize"] = kustomize.model_copy(update={"images": images})
    return source.model_copy(update=changes) if changes else source


def _kustomize_image(ctx: StepContext, image: KustomizeImageUpdate, number: int) -> str:
    """Argo CD's kustomize image override: `repoURL[=newName]:tag` or `...@digest`."""
    tag, digest = image.tag, image.digest
    if not tag and not digest:
        found = next((i for f in ctx.freight for i in f.images if i.repo_url == image.repo_url), None)
        if found is None:
            raise TerminalStepError(
                f"config.apps[].sources[{number}].kustomize.images: no tag or digest for {image.repo_url} and "
                "no Freight being promoted has that image"
            )
        tag, digest = ("", found.digest) if found.digest and not found.tag else (found.tag, "")
    name = f"{image.repo_url}={image.new_name}" if image.new_name else image.repo_url
    return f"{name}@{digest}" if digest else f"{name}:{tag}"


def _image_name(entry: str) -> str:
    """The image an override is for: before `=`, else before the tag or digest."""
    if "=" in entry:
        return entry.split("=", 1)[0]
    if "@" in entry:
        return entry.split("@", 1)[0]
    head, sep, tail = entry.rpartition(":")
    return head if sep and "/" not in tail else entry


def _busy(app: Application) -> bool:
    state = app.status.operation_state
    return app.operation is not None or (state is not None and bool(state.phase) and not state.completed)


def _own_operation(app: Application, desired: dict[int, str], promotion: str) -> tuple[bool, bool]:
    """(this promotion's sync to `desired` is running, it finished successfully)."""
    state = app.status.operation_state
    if state is None or state.operation is None or not promotion:
        return False, False
    infos = {i.name: i.value for i in state.operation.info}
    if infos.get(PROMOTION_INFO) != promotion or not _same_revisions(app, state.operation.sync, desired):
        return False, False
    return not state.completed, state.phase == PHASE_SUCCEEDED


def _same_revisions(app: Application, sync: SyncOperation | None, desired: dict[int, str]) -> bool:
    if sync is None:
        return not desired
    asked = list(sync.revisions) if app.multi_source else [sync.revision]
    return all(index < len(asked) and asked[index] == rev for index, rev in desired.items())


def _arrived(watched: Watched, desired: dict[int, str]) -> bool:
    """The app's operation is over and succeeded, it is Synced at `desired` and Healthy; raises when it
    cannot get there without another sync."""
    app = watched.app
    if _busy(app):
        return False
    state = app.status.operation_state
    if state is not None and state.phase != PHASE_SUCCEEDED:
        raise StepError(
            f"the sync of {watched.ref} to {_revisions(desired)} ended {state.phase}: "
            f"{state.message or 'no message'}; Argo CD says: {app.state_summary()}"
        )
    if watched.degraded_from_a_good_state():
        raise StepFailed(
            f"application {watched.ref} is Degraded after the sync to {_revisions(desired)}: "
            f"{app.status.health.message or 'no message'}; Argo CD says: {app.state_summary()}"
        )
    synced = app.synced_revisions
    at_desired = all(index < len(synced) and synced[index] == rev for index, rev in desired.items())
    return app.status.sync.status == SYNCED and at_desired and app.status.health.status == HEALTHY


def _goal(desired: dict[int, str]) -> str:
    return f"Synced at {_revisions(desired)} and Healthy" if desired else "Synced and Healthy"


def _revisions(desired: dict[int, str]) -> str:
    return ", ".join(desired[i] for i in sorted(desired)) if desired else "the target revisions"
