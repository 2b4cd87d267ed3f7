"""How rule changes reach agreements that are already running: every patch, and the rules each run adopts.

An agreement lives for years across many deployments, so a change that could alter what a workflow does goes
behind a named ``workflow.patched`` call: a history recorded before the change replays on the old branch, a new
run takes the new one. The rules an agreement follows are carried in its state (``Agreement.rules_version`` and
the flags beside it), so a continued run asks history for no patch at all. Every name here is in recorded
histories: never rename one. The contributors' guide (docs/contributors.md) says how to add one.
"""

from datetime import datetime

from temporalio import workflow
from temporalio.common import SearchAttributeUpdate

with workflow.unsafe.imports_passed_through():
    from domain.agreement import Agreement

RAISE_LEVELS_REACHED_WHILE_RAISING = "raise-levels-reached-while-raising"
"""Patch: before it, a level reached while an alert was being raised waited for the next level."""
UPSERT_ONLY_CHANGED_ATTRIBUTES = "upsert-only-changed-search-attributes"
"""Patch: before it, every change the Web UI shows (even details alone) upserted all seven attributes."""
NEVER_SKIP_REVIEWS = "never-skip-reviews"
"""Patch: before it, a review decided after later review periods had ended skipped them ("review 2 skipped").
Since, every period gets its own review, in order (``Agreement.reviews_never_skipped``, set at each run's start)."""
DIGEST_LOCAL_PERIODS = "digest-local-periods"
"""Patch (the alert digest workflow): before it, a digest's period was the UTC date or week; since, the date or
week in the digest schedule's time zone, so that a digest after local midnight in summer time keeps its own day."""
CALENDAR_PERIODS = "calendar-periods"
"""Patch: before it, review periods and terms were plain durations (P1Y was 365 days, P1M 30). Agreements opened
since count calendar months and years (``Agreement.calendar_periods``, set when the agreement opens)."""
TITLE_SEARCHABLE = "title-searchable"
"""Patch: before it, runs upserted seven search attributes; runs begun since also set ``AgreementTitle``, so that
the Web UI's workflow list can show each agreement's title as a column."""
REFUSE_A_WORKFLOW_ID_OF_ANOTHER_AGREEMENT = "refuse-a-workflow-id-of-another-agreement"
"""Patch: before it, a run whose workflow id named another agreement opened and recorded its own agreement id."""
BUSINESS_CASE_REQUIRED = "business-case-required"
"""Patch: before it, a proposal was submitted without a business case or a risk register. Since, the submit rule
asks for both (``Agreement.business_case_required``, set at each run's start)."""
SIGN_WHAT_YOU_SAW = "sign-what-you-saw"
"""Patch: before it, a sign-off needed not name the version it approves. Runs begun since require it
(``Agreement.versions_signed``, set at each run's start); a version named is checked either way."""

RULES_CARRIED = "rules-carried"
"""Patch: before it, every run asked history for each patch above that sets a rule at its start (each ask a
marker event and a ``TemporalChangeVersion`` upsert, a visibility write), and a continued run upserted again the
search attributes it started with. Runs begun since take all those rules at once, behind this one patch, and
carry them in the state (``Agreement.rules_version`` 1): a run continued from such a run asks for no patch at
all, and upserts only attributes that differ from those it started with. From rules version 1 on, every patch
above is taken as applied without asking history; a later rule goes behind its own patch, asked only while the
carried version is below the one that brings it."""
IDENTITIES_BOUND_BY_OWN_BODY = "identities-bound-by-own-body"
"""Patch: before it, the lead's opening proposal, its revisions and its naming of a signatory for a body with none
could set (or change) any body's signatories' identities. Runs begun since carry rules version 2
(``Agreement.identities_bound_by_own_body``): only a body's own current signatories, or the signatory accepting
the role through their own body's issuer (``bind_identity``), set its identities; and names are compared by their
UTS #39 confusable skeletons (``Agreement.names_compared_by_skeleton``), so look-alike names are one person in
one-person-one-body and in the register. Asked first, it brings every
rule of ``rules-carried`` too; a run continued from one carrying version 2 asks for none of those."""

PREFERRED_OPTION_JUSTIFIED = "preferred-option-justified"
"""Patch: before it, a proposal whose preferred option is not the one of highest net present social value was
submitted without a word of why. Runs begun since carry rules version 3 (``Agreement.preferred_option_justified``):
such a proposal is refused until its business case records ``preferred_justification`` (Green Book 2022, chapter 5,
"Preferred option selection"). It brings every rule of versions 1 and 2 too; a run carrying version 3 asks for it
no more."""
ANSWERED_IN_ONE_TASK = "answered-in-one-task"
"""Patch: before it, every decision was written and every alert raised through an ordinary activity (the server
schedules it: three more events and a second workflow task before an update is answered), and a run continued as
new after every review cycle. Runs begun since write them in local activities (``Agreement.ledger_written_locally``:
an update is answered in the workflow task that accepts it, once its decisions are committed), and continue as new
only as history nears its bound or the server suggests it (``Agreement.runs_until_history_bound``). Both flags are
carried from run to run. It brings every rule of ``identities-bound-by-own-body`` too (runs recorded with it alone
took those); a run carrying the flags asks for it no more."""

CURRENT_RULES = (PREFERRED_OPTION_JUSTIFIED, ANSWERED_IN_ONE_TASK)
"""The patches a new agreement asks history for, in this order, as it opens: together they bring the current rules
and engine; a run continued from one carrying both asks for none."""
LEDGER_IS_THE_RECORD = "ledger-is-the-record"
"""Patch, asked only on the rare path (a ledger write refused as ``LedgerConflict``, which only a Temporal reset
across an accepted action brings): before it, the conflict failed the action and every later one. Since, the
workflow records at the ledger's head (a repeat is found, a divergence recorded as ``reset_recorded``) and adopts
the ledger's head."""
RECORD_CANCELLATION = "record-cancellation"
"""Patch, asked only when an operator cancels an agreement's workflow: before it, the run ended cancelled with
nothing in the ledger, the agreement looking alive. Since, the cancellation is recorded as a closing decision
(``cancelled``, then the move to closed) before the run ends cancelled."""


def opening_time() -> datetime:
    """When a fresh agreement opens: since ``answered-in-one-task``, the moment its workflow started, the same in
    every attempt at its first workflow task (the opening is written in a local activity, so a task retried after
    the write committed writes the very same decision again, which the ledger finds already there); before it,
    the first task's time."""
    return workflow.info().workflow_start_time if workflow.patched(ANSWERED_IN_ONE_TASK) else workflow.now()


def applies(agreement: Agreement, patch: str) -> bool:
    """Whether a rare-path ``patch`` from before ``rules-carried`` applies: always from rules version 1 (taken as
    applied without asking history), otherwise as history says."""
    return agreement.rules_version >= 1 or workflow.patched(patch)


def adopt_rules(agreement: Agreement, *, opening: bool) -> bool:
    """Give ``agreement`` (changed in place) the rules of this code at a run's start: all at once behind
    ``preferred-option-justified`` and ``answered-in-one-task`` (``CURRENT_RULES``, each asked only while the
    agreement does not carry what it brings); for a run begun before them, as it did (behind one of them alone,
    ``identities-bound-by-own-body``, ``rules-carried``, or patch by patch). ``opening`` is true for a fresh
    agreement, false for a continued run. Returns whether the run sets the ``AgreementTitle`` search attribute.

    Either of the two newest patches brings rules version 2 with it: histories recorded while each was the only
    patch a new agreement asked for hold that one marker alone, and replay as they ran."""
    if agreement.rules_version < 3 and workflow.patched(PREFERRED_OPTION_JUSTIFIED):
        if agreement.rules_version < 2:
            _take_version_2(agreement, opening=opening)
        agreement.preferred_option_justified = True
        agreement.rules_version = 3
    if not agreement.ledger_written_locally and workflow.patched(ANSWERED_IN_ONE_TASK):
        if agreement.rules_version < 2:
            _take_version_2(agreement, opening=opening)
        agreement.ledger_written_locally = agreement.runs_until_history_bound = True
    if agreement.rules_version >= 2:
        return True
    if workflow.patched(IDENTITIES_BOUND_BY_OWN_BODY):
        _take_version_2(agreement, opening=opening)
        return True
    return _adopt_first_rules(agreement, opening=opening)


def _take_version_2(agreement: Agreement, *, opening: bool) -> None:
    """The rules ``identities-bound-by-own-body`` brings (rules version 2), with those of version 1 if the
    agreement has not taken them yet."""
    if agreement.rules_version == 0:
        _take_rules_carried(agreement, opening=opening)
    agreement.identities_bound_by_own_body = agreement.names_compared_by_skeleton = True
    agreement.rules_version = 2


def _take_rules_carried(agreement: Agreement, *, opening: bool) -> None:
    """The rules ``rules-carried`` brings at once (rules version 1)."""
    if opening:
        agreement.calendar_periods = True
    agreement.reviews_never_skipped = agreement.versions_signed = True
    agreement.business_case_required = True
    agreement.rules_version = 1


def _adopt_first_rules(agreement: Agreement, *, opening: bool) -> bool:
    """The rules of a run begun before ``identities-bound-by-own-body``: up to rules version 1."""
    if agreement.rules_version >= 1:
        return True
    if workflow.patched(RULES_CARRIED):
        _take_rules_carried(agreement, opening=opening)
        return True
    if opening and workflow.patched(CALENDAR_PERIODS):
        agreement.calendar_periods = True
    if workflow.patched(NEVER_SKIP_REVIEWS):
        agreement.reviews_never_skipped = True
    if workflow.patched(SIGN_WHAT_YOU_SAW):
        agreement.versions_signed = True
    title_searchable = workflow.patched(TITLE_SEARCHABLE)
    if workflow.patched(BUSINESS_CASE_REQUIRED):
        agreement.business_case_required = True
    return title_searchable


def upsert_search_attributes(
    agreement: Agreement, attributes: list[SearchAttributeUpdate], published: list[SearchAttributeUpdate]
) -> None:
    """Send the Web UI's search attributes as this agreement's rules say: from rules version 1, only those that
    differ from the run's own (a continued run starts with its predecessor's); since
    ``upsert-only-changed-search-attributes``, only those changed since ``published``; before it, all of them."""
    if agreement.rules_version >= 1:
        carried = workflow.info().typed_search_attributes
        changed = [update for update in attributes if carried.get(update.key) != update.value]
    elif workflow.patched(UPSERT_ONLY_CHANGED_ATTRIBUTES):
        changed = [update for update in attributes if update not in published]
    else:
        workflow.upsert_search_attributes(attributes)
        return
    if changed:
        workflow.upsert_search_attributes(changed)
