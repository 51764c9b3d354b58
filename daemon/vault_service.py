"""The vault of this device, kept in memory and on disk in step.

Every change runs the pure protocol code to make an op, then stores the op
durably before the caller hears it worked. Changes are serialised by a lock,
so ops are stored in the order they were made. If the disk refuses a write,
the vault is rebuilt from what the disk holds, so memory never claims more
than the disk has.
"""

from __future__ import annotations

import asyncio
import gc
import itertools
import logging
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from twofold.protocol.account import AccountDraft, OtpKind, OtpParams, base32_secret
from twofold.protocol.account_write import ACCOUNT_ID_SIZE
from twofold.protocol.codes import Code, code_at
from twofold.protocol.envelope import Op
from twofold.protocol.errors import InvalidAccount, NotFound, Refused
from twofold.protocol.identity import DeviceKey, display_id
from twofold.protocol.membership import Member
from twofold.protocol.otpauth import parse_uri
from twofold.protocol.replica import BatchReport, Source
from twofold.protocol.sameness import account_key, find_same, index
from twofold.protocol.state import AccountView
from twofold.protocol.text import strip_hidden
from twofold.protocol.vault import Vault
from twofold.protocol.vector import VersionVector

from .errors import Ambiguous, BadRequest, DuplicateAccount, NoCurrentCode, StorageFailed
from .events import EventBus
from .keystore import StoreKey
from .quiet_log import Tally
from .storage import Storage

log = logging.getLogger(__name__)

_SEED_LABEL = b"twofold/store/device-seed/v1"
_FREEZE_AFTER = 100
REFUSAL_LOG_INTERVAL_S = 10.0
_KEPT_META = (
    "device_seed",
    "store_key_source",
    "store_key_sealed",
    "store_key_cost",
    "device_name",
    "peer_port",
)


def _log_replay(report: BatchReport) -> None:
    """A stored op that no longer replays (a rotted byte) is reported; the rest still loads."""
    for raw, error in report.refused:
        what = raw if isinstance(raw, bytes) else raw.raw
        log.error("a stored op (%d bytes) no longer replays and is left out: %s", len(what), error)
    if report.held:
        log.warning("%d stored ops wait for ops not stored yet", len(report.held))


def now_ms() -> int:
    """Wall-clock milliseconds, the one place the daemon reads time for ops."""
    return time.time_ns() // 1_000_000


class OpFeed:
    """Ops stored since a peer session began, for it to push; bounded, never blocking a write."""

    LIMIT = 10_000

    def __init__(self, service: VaultService) -> None:
        self._service = service
        self._queue: asyncio.Queue[list[Op]] = asyncio.Queue()
        self._queued = 0
        self.overflowed = False

    def put(self, ops: list[Op]) -> None:
        """Queue ops; past the limit, drop them and let the session resend its vector."""
        if self._queued + len(ops) > self.LIMIT:
            self.overflowed = True
            return
        self._queued += len(ops)
        self._queue.put_nowait(ops)

    async def get(self) -> list[Op]:
        """Every op queued so far (waiting for one): a burst goes out as one message."""
        ops = list(await self._queue.get())
        while not self._queue.empty():
            ops.extend(self._queue.get_nowait())
        self._queued = 0
        return ops

    def close(self) -> None:
        """Stop receiving ops."""
        self._service._feeds.discard(self)


class KeyUpkeepLike(Protocol):
    """What the service asks of the key upkeep (daemon/key_upkeep.py) when membership moves."""

    def poke(self) -> None:
        """Check keys again."""


@dataclass(frozen=True)
class Brought:
    """What joining did with the accounts this device held before: `added` to the vault, or
    `already_there` (the same account, protocol/sameness.py, was in the vault or its trash;
    `in_trash` of those only in its trash, left there)."""

    added: int = 0
    already_there: int = 0
    in_trash: int = 0

    def to_json(self) -> dict[str, int]:
        return {"added": self.added, "already_there": self.already_there, "in_trash": self.in_trash}


@dataclass(frozen=True)
class Identity:
    """This device as people see it."""

    device_id: str
    name: str
    vault_id: str


class VaultService:
    """The one vault of a home, its storage, and the lock that orders writes."""

    def __init__(
        self, vault: Vault, storage: Storage, name: str, events: EventBus | None = None
    ) -> None:
        self.vault = vault
        self.storage = storage
        self.identity = Identity(display_id(vault.device.public), name, vault.vault.hex())
        self._lock = asyncio.Lock()
        self._feeds: set[OpFeed] = set()
        self._carried: list[tuple[AccountDraft, bool]] = []
        self._inbox: list[
            tuple[list[bytes], OpFeed | None, Source | None, asyncio.Future[BatchReport]]
        ] = []
        self._sessions = itertools.count(1)
        self._open_sources: set[Source] = set()
        self._draining: asyncio.Task[None] | None = None
        self._refusals = Tally(log, "refused ops from peers", REFUSAL_LOG_INTERVAL_S)
        self._membership_changed: list[Callable[[], None]] = []
        self._vault_replaced: list[Callable[[], Awaitable[None]]] = []
        self.upkeep: KeyUpkeepLike | None = None
        self.events = events or EventBus()

    @classmethod
    async def open(
        cls,
        storage: Storage,
        store_key: StoreKey,
        device_name: str,
        events: EventBus | None = None,
    ) -> VaultService:
        """Load the vault, or make a new one (device key and genesis) on first start; `events`
        is the daemon's bus, which outlives the service when the vault locks."""
        wrapped = await storage.get_meta("device_seed")
        if wrapped is None:
            device = DeviceKey.generate()
            vault = Vault.found(device, device_name, now_ms())
            await storage.initialise(
                {
                    "device_seed": store_key.seal(device.seed, _SEED_LABEL),
                    "store_key_source": store_key.source.encode(),
                    "vault_id": vault.vault,
                    "device_name": device_name.encode(),
                },
                [Op(raw) for raw in vault.log()],
            )
            log.info(
                "made a new vault %s on device %s", vault.vault.hex(), display_id(device.public)
            )
            return cls(vault, storage, device_name, events)
        device = DeviceKey(store_key.open(wrapped, _SEED_LABEL))
        vault_id = await storage.get_meta("vault_id")
        name = await storage.get_meta("device_name")
        if vault_id is None or name is None:
            raise StorageFailed("the database is damaged: it has a device key but no vault id")
        started = time.perf_counter()
        vault, report = Vault.restore(vault_id, device, await storage.log())
        _log_replay(report)
        log.info("loaded %d ops in %.3f s", len(vault.by_hash), time.perf_counter() - started)
        gc.freeze()  # the loaded vault lives as long as the daemon: stop rescanning it
        return cls(vault, storage, name.decode(), events)

    def members(self) -> Mapping[bytes, Member]:
        """The vault's members now, by public key."""
        return self.vault.membership.members

    def devices(self) -> Mapping[bytes, Member]:
        """Every device ever added, removed ones included, by public key."""
        return self.vault.membership.added

    def removed(self) -> set[bytes]:
        """The devices removed from the vault."""
        return set(self.vault.membership.removals)

    def out_of_vault(self) -> bool:
        """This device was removed, or its vault closed: it has no one to sync with."""
        return self.vault.removal_of_me() is not None or self.vault.membership.closed

    def vector(self) -> VersionVector:
        """What this device holds, as a version vector."""
        return self.vault.vector()

    def views(self) -> list[AccountView]:
        """Every account as this device shows it, the trash included."""
        return self.vault.state.views()

    def op_count(self) -> int:
        """How many ops this device holds."""
        return len(self.vault.by_hash)

    def on_membership_changed(self, callback: Callable[[], None]) -> None:
        """Call this after every change of the vault's members (the composition root wires it)."""
        self._membership_changed.append(callback)

    def on_vault_replaced(self, callback: Callable[[], Awaitable[None]]) -> None:
        """Await this after this device starts a new vault."""
        self._vault_replaced.append(callback)

    def sealed_seed(self, store_key: StoreKey) -> bytes:
        """This device's key sealed under a store key, as the database keeps it."""
        return store_key.seal(self.vault.device.seed, _SEED_LABEL)

    async def write(self, make: Callable[[Vault], Op]) -> Op:
        """Make one op under the write lock, store it, apply it, push it; membership ops
        notify too."""
        _, ops = await self._commit(lambda v: [make(v)])
        return ops[-1]

    async def ensure_writable(self) -> bool:
        """Rotate if every epoch key this member holds is known to a device that left; whether
        it rotated."""
        rotation, _ = await self._commit(lambda v: [])
        return bool(rotation)

    async def write_batch(self, make: Callable[[Vault], list[Op]]) -> list[Op]:
        """Many account ops made and stored in one transaction (an import): one fsync, not
        one per account. `make` runs under the write lock, so what it reads stays true."""
        _, ops = await self._commit(make)
        return ops

    async def _commit(self, make: Callable[[Vault], list[Op]]) -> tuple[list[Op], list[Op]]:
        """Prepare, store, apply: the ops `make` writes (after a rotation, when one is due) are
        sealed without touching the vault in memory, stored in one transaction, and applied
        only once the disk holds them. A refusal by `make` or by the disk changes nothing.
        The rotation and `make`'s ops."""
        async with self._lock:
            (rotation, ops), sealed = self.vault.prepare(lambda v: (self._rotation_due(v), make(v)))
            if sealed:
                await self._store(sealed)
                await self._apply(sealed)
        self._publish(sealed, None)
        if any(not o.kind.encrypted for o in sealed):
            self._membership_moved()
        return rotation, ops

    @staticmethod
    def _rotation_due(vault: Vault) -> list[Op]:
        """A rotation when every key here is known to a device that left; every write starts
        with it."""
        if not vault.needs_rotation():
            return []
        log.info("no key of the vault is safe to write under: rotating")
        return [vault.rotate_key(now_ms())]

    async def _store(self, ops: list[Op]) -> None:
        try:
            await self.storage.append(ops)
        except Exception as exc:
            log.exception("storing ops failed")
            raise StorageFailed(
                f"the change could not be saved ({exc}); nothing was changed"
            ) from exc

    async def _apply(self, ops: list[Op]) -> None:
        """Apply stored ops this device made. They were made against the state they land on,
        so a refusal here is a bug; the disk then holds ops memory lacks, and a next write
        would reuse their place in this device's chain: memory is rebuilt from the disk."""
        try:
            self.vault.apply_own(ops)
        except Exception:
            log.exception("an op this device made and stored did not apply; reloading")
            await self._reload()
            raise

    async def _reload(self) -> None:
        self.vault, report = Vault.restore(
            self.vault.vault, self.vault.device, await self.storage.log()
        )
        _log_replay(report)

    def _membership_moved(self) -> None:
        self.events.publish("devices")
        for callback in self._membership_changed:
            callback()
        if self.upkeep is not None:
            self.upkeep.poke()

    def open_session(self, peer: bytes) -> Source:
        """A new source of ops from `peer`: what it makes this device hold back is counted
        against the peer, and dropped by `end_session`."""
        source = Source(peer, next(self._sessions))
        self._open_sources.add(source)
        return source

    def end_session(self, source: Source) -> tuple[int, int]:
        """The session ended: drop the ops it brought that still wait (its peer sends them
        again at the next exchange). The ops and bytes dropped."""
        self._open_sources.discard(source)
        return self.vault.drop_held(source)

    async def receive(
        self, raws: list[bytes], source: OpFeed | None = None, sender: Source | None = None
    ) -> BatchReport:
        """Ops from a peer: verify, apply, store, pass on to the other peers.

        Ops that arrive from several peers while a batch is being stored wait and
        then go in together: one transaction (one fsync) for all of them, which is
        what keeps a busy device from falling behind its peers. `sender` is the
        session they came in (`open_session`): ops it makes this device hold back are
        on its account. The report says what was applied and what was not held.
        """
        done: asyncio.Future[BatchReport] = asyncio.get_running_loop().create_future()
        self._inbox.append((raws, source, sender, done))
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await done

    async def _drain(self) -> None:
        while self._inbox:
            batch, self._inbox = self._inbox, []
            try:
                report = await self._receive_now([(raws, sender) for raws, _, sender, _ in batch])
            except Exception as exc:  # noqa: BLE001 - handed to every waiter
                for _, _, _, done in batch:
                    if not done.done():
                        done.set_exception(exc)
                continue
            finally:  # a session that ended while its ops waited here holds nothing after it
                for sender in {s for _, _, s, _ in batch} - self._open_sources:
                    if sender is not None:
                        self.vault.drop_held(sender)
            applied = {op.raw: op for op in report.applied}
            for raws, source, sender, done in batch:
                mine = [applied[raw] for raw in raws if raw in applied]
                self._publish(mine, source)
                dropped = [d for d in report.dropped if d[1] == sender]
                if not done.done():
                    done.set_result(BatchReport(applied=mine, dropped=dropped))

    async def _receive_now(self, batches: list[tuple[list[bytes], Source | None]]) -> BatchReport:
        async with self._lock:
            members_before = self.vault.membership.members.keys()
            evidence_before = len(self.vault.evidence)
            forks_before = dict(self.vault.graph.forks)
            suspects_before = set(self.vault.suspects)
            report = self.vault.receive_batches(batches, now_ms())
            if report.applied:
                try:
                    await self._store(report.applied)
                except StorageFailed:
                    # A peer's ops are checked as they apply (each against the ones before
                    # it), so these are in memory already: the disk is the truth again, and
                    # the peer sends them at the next exchange.
                    await self._reload()
                    raise
            if len(report.applied) >= _FREEZE_AFTER:
                gc.freeze()  # the vault's objects live as long as the daemon: stop rescanning them
            for first, second in self.vault.evidence[evidence_before:]:
                await self.storage.add_evidence(first, second)
            membership_moved = self.vault.membership.members.keys() != members_before
        for _, error in report.refused:  # a member sending junk gets a line per interval
            self._refusals.add(f"{type(error).__name__}: {error}"[:200])
        if report.dropped:  # not a fault of the ops: one line, not one per op
            reasons = Counter(type(error).__name__ for _, _, error in report.dropped)
            log.debug(
                "did not hold %d ops (%s); %d ops, %d bytes held in all",
                len(report.dropped),
                ", ".join(f"{n} {reason}" for reason, n in sorted(reasons.items())),
                len(self.vault.pending),
                self.vault.held_bytes,
            )
        vault = self.vault
        newly = {a for a, f in vault.graph.forks.items() if forks_before.get(a) != f}
        newly |= vault.suspects - suspects_before
        if newly:  # a vector cannot tell which branch a peer holds: show every peer both
            log.warning("the logs of %s forked", ", ".join(display_id(a) for a in newly))
            self._publish([op for a in sorted(newly) for op in vault.ops_to_resend(a)], None)
        if membership_moved or newly or any(not op.kind.encrypted for op in report.applied):
            self._membership_moved()
        return report

    def feed(self) -> OpFeed:
        """A queue of every op stored from now on, for one peer session."""
        feed = OpFeed(self)
        self._feeds.add(feed)
        return feed

    def _publish(self, ops: list[Op], source: OpFeed | None) -> None:
        if not ops:
            return
        for feed in list(self._feeds):
            if feed is not source:
                feed.put(ops)
        if not self.events.listened:
            return
        writes = self.vault.writes
        changed = {writes[op.hash].account.hex() for op in ops if op.hash in writes}
        if changed:
            me = self.vault.device.public
            local = all(op.author == me for op in ops)
            self.events.publish("accounts", ids=sorted(changed), local=local)

    # -- membership ------------------------------------------------------------

    async def add_device(self, cert: bytes, name: str) -> Op:
        """Add the device that paired, with every epoch key this device holds sealed to it."""
        return await self.write(lambda v: v.add_device(cert, name[:64] or "device", now_ms()))

    def find_device(self, text: str) -> bytes:
        """A member's key from its device ID as shown ("JD3A-ZZQ3-..."), or a unique start of it."""
        wanted = text.replace("-", "").upper()
        if len(wanted) < 4:
            raise BadRequest("give at least 4 characters of the device ID", "id")
        found = [
            key
            for key in self.vault.membership.added
            if display_id(key, groups=13).replace("-", "").startswith(wanted)
        ]
        if not found:
            raise NotFound(f"no device has an ID starting with {text}")
        if len(found) > 1:
            raise Ambiguous(f"{len(found)} devices have IDs starting with {text}: give more")
        return found[0]

    async def remove_device(self, text: str) -> bytes:
        """Revoke a device: remove it and rotate to a key it never sees."""
        key = self.find_device(text)
        if key == self.vault.device.public:
            raise Refused("a device cannot revoke itself here: revoke it from another device")
        await self.write(lambda v: v.remove_device(key, now_ms()))
        return key

    async def rename(self, name: str) -> None:
        """Give this device a new name, in the vault and in what it shows when pairing."""
        await self.write(lambda v: v.rename_device(name, now_ms()))
        self.identity = Identity(self.identity.device_id, name, self.identity.vault_id)
        await self.storage.set_meta("device_name", name.encode())
        from . import config as config_module  # here only: the one setting written back
        from .home import Home

        home = Home(self.storage.path.parent)  # the database lives in the home
        if home.config.exists():  # so that config.toml does not name the device as it was
            try:
                await asyncio.to_thread(config_module.save, home, device_name=name)
            except (OSError, config_module.ConfigError) as exc:
                log.warning("renamed; config.toml still has the old device_name: %s", exc)

    async def move_into(self, vault_id: bytes) -> None:
        """Leave this device's own vault for the one it joined; the old database is kept aside."""
        async with self._lock:
            await self._replace_vault(Vault(vault_id, self.vault.device))
            log.info("joined vault %s", vault_id.hex())

    async def start_new_vault(self) -> int:
        """Found a new vault on this device with every account it shows, after it was removed
        or its vault closed; the old database is kept aside. Returns the accounts brought."""
        removal = self.vault.removal_of_me()
        if removal is None and not self.vault.membership.closed:
            raise Refused(
                "this device is a member of its vault: a new vault is for a device that was "
                "removed or whose vault closed"
            )
        async with self._lock:
            name = strip_hidden(self.identity.name)[:64] or "device"  # older names
            fresh = Vault.found(self.vault.device, name, now_ms())
            await self._replace_vault(fresh, [Op(raw) for raw in fresh.log()])
        brought = (await self.bring_along()).added
        self._membership_moved()
        for callback in self._vault_replaced:
            await callback()
        log.info("started vault %s with %d accounts", fresh.vault.hex(), brought)
        return brought

    async def _replace_vault(self, new: Vault, genesis: list[Op] | None = None) -> None:
        """Keep the accounts shown here to bring along, set the database aside, start `new`
        (with the genesis of a vault founded here, in the transaction that makes the file: a
        crash between the two would leave a vault with no founder)."""
        old = self.vault
        self._carried = [
            (AccountDraft(v.issuer, v.name, v.otp, v.counter, v.note), v.deleted)
            for v in old.state.views()
        ]
        meta = {k: await self.storage.get_meta(k) for k in _KEPT_META}
        path = self.storage.path
        aside = path.with_name(f"{path.stem}-left-{old.vault.hex()[:8]}{path.suffix}")
        self.storage = await self.storage.set_aside(aside)
        kept = {k: v for k, v in meta.items() if v is not None}
        await self.storage.initialise({**kept, "vault_id": new.vault}, genesis or [])
        self.vault = new
        self.identity = Identity(self.identity.device_id, self.identity.name, new.vault.hex())
        log.info("left vault %s; its database is kept as %s", old.vault.hex(), aside)

    async def bring_along(self) -> Brought:
        """Re-create, in the joined vault, the accounts this device held before joining, all in
        one transaction. One the vault already holds (the same account, protocol/sameness.py,
        in the vault or its trash) is not added again: a device restored from a backup of the
        vault would otherwise double every account. Of a counter-based (HOTP) one, the
        vault's counter moves up to this device's if this device had counted further, so no
        code already shown here is shown again. One in the vault's trash stays there (someone
        put it there); it is counted, and restoring it is one command away."""
        carried, self._carried = self._carried, []
        counts = {"added": 0, "already_there": 0, "in_trash": 0}

        def make(v: Vault) -> list[Op]:
            held = index(v.state.views())
            ops: list[Op] = []
            counters: dict[bytes, int] = {}
            for draft, deleted in carried:
                same = held.get(account_key(draft))
                if same is None:
                    try:
                        _, op = v.create_account(draft, now_ms(), trashed=deleted)
                    except InvalidAccount as exc:  # older data the vault no longer takes
                        log.error("an account could not be brought along: %s", exc)
                        continue
                    ops.append(op)
                    counts["added"] += 1
                    continue
                counts["already_there"] += 1
                counts["in_trash"] += same.deleted and not deleted
                if same.otp.kind is OtpKind.HOTP and draft.counter > same.counter:
                    counters[same.id] = max(draft.counter, counters.get(same.id, 0))
            for aid, counter in counters.items():  # one write each: a draft's ops are siblings
                ops.append(v.update_account(aid, now_ms(), counter=counter))
            return ops

        if carried:
            await self.write_batch(make)
        return Brought(**counts)

    # -- reading -------------------------------------------------------------

    def find(self, prefix: str) -> bytes:
        """An account ID from its hex form or a unique prefix of at least 4 digits."""
        text = prefix.lower()
        if not 4 <= len(text) <= 2 * ACCOUNT_ID_SIZE or not all(
            c in "0123456789abcdef" for c in text
        ):
            raise BadRequest("an account id is 4 to 32 hex digits", "id")
        found = [aid for aid in self.vault.state.accounts if aid.hex().startswith(text)]
        found = [aid for aid in found if self.vault.state.view(aid) is not None]
        if not found:
            raise NotFound(f"no account has an id starting with {text}")
        if len(found) > 1:
            raise Ambiguous(
                f"{len(found)} accounts have ids starting with {text}: give more digits"
            )
        return found[0]

    def account(self, prefix: str) -> AccountView:
        """One account, trashed or not."""
        return self.vault.account(self.find(prefix))

    def current_code(self, view: AccountView, now: float | None = None) -> Code:
        """The code of a time-based account at `now`."""
        if view.otp.kind is OtpKind.HOTP:
            raise NoCurrentCode(
                f"{view.issuer or view.name} is a counter-based (HOTP) account: it has no "
                "current code; ask for the next one"
            )
        return code_at(view.otp, now=time.time() if now is None else now)

    # -- writing -------------------------------------------------------------

    async def create_from_uri(
        self, uri: str, pin: str | None, note: str | None, *, allow_duplicate: bool = False
    ) -> AccountView:
        """Add the account an otpauth URI describes (see `_create` for a duplicate)."""
        draft = parse_uri(uri, pin=pin)
        if note:
            draft = AccountDraft(draft.issuer, draft.name, draft.otp, draft.counter, note)
        return await self._create(draft, allow_duplicate=allow_duplicate)

    async def create_from_fields(
        self, fields: dict[str, Any], *, allow_duplicate: bool = False
    ) -> AccountView:
        """Add an account typed in field by field (see `_create` for a duplicate)."""
        kind = fields.get("kind", "totp")
        secret_text = fields["secret"]
        if not isinstance(secret_text, str):
            raise InvalidAccount("secret", "secret must be text")
        if kind == "motp":
            try:
                secret = bytes.fromhex(secret_text)
            except ValueError:
                raise InvalidAccount("secret", "secret is not valid hexadecimal") from None
        else:
            secret = base32_secret(secret_text)
        otp = OtpParams.create(
            kind,
            secret,
            algorithm=fields.get("algorithm"),
            digits=fields.get("digits"),
            period=fields.get("period"),
            pin=fields.get("pin"),
        )
        draft = AccountDraft(
            issuer=fields.get("issuer", ""),
            name=fields.get("name", ""),
            otp=otp,
            counter=fields.get("counter", 0),
            note=fields.get("note", ""),
        )
        return await self._create(draft, allow_duplicate=allow_duplicate)

    def _refuse_duplicate(self, vault: Vault, draft: AccountDraft) -> None:
        """DuplicateAccount if the vault (or its trash) holds the same account already; a
        device that may not write at all says that first."""
        vault.check_writable()
        same = find_same(vault.state.views(), draft)
        if same is not None:
            raise DuplicateAccount(same.id.hex(), same.issuer, same.name, same.deleted)

    async def _create(self, draft: AccountDraft, *, allow_duplicate: bool = False) -> AccountView:
        """Add an account; one the vault holds already (protocol/sameness.py), in the trash or
        not, is refused (DuplicateAccount) unless the person asked for a second copy."""
        holder: list[bytes] = []
        if not allow_duplicate:  # asked before the write lock, so a refusal changes nothing
            self._refuse_duplicate(self.vault, draft)

        def make(v: Vault) -> Op:
            if not allow_duplicate:  # again under the lock: an add of the same may have won
                self._refuse_duplicate(v, draft)
            aid, op = v.create_account(draft, now_ms())
            holder.append(aid)
            return op

        await self.write(make)
        return self.vault.account(holder[0])

    async def update(self, prefix: str, changes: dict[str, Any]) -> AccountView:
        """Change fields of an account."""
        aid = self.find(prefix)
        await self.write(lambda v: v.update_account(aid, now_ms(), **changes))
        return self.vault.account(aid)

    async def delete(self, prefix: str) -> AccountView:
        """Move an account to the trash."""
        aid = self.find(prefix)
        await self.write(lambda v: v.delete_account(aid, now_ms()))
        return self.vault.account(aid)

    async def restore(self, prefix: str) -> AccountView:
        """Bring an account back from the trash."""
        aid = self.find(prefix)
        await self.write(lambda v: v.restore_account(aid, now_ms()))
        return self.vault.account(aid)

    async def next_code(self, prefix: str) -> tuple[AccountView, Code, int]:
        """The next HOTP code: the counter is stored past it before the code is shown."""
        aid = self.find(prefix)
        used: list[int] = []

        def make(v: Vault) -> Op:
            counter, op = v.next_hotp_counter(aid, now_ms())
            used.append(counter)
            return op

        await self.write(make)
        view = self.vault.account(aid)
        return view, code_at(view.otp, now=time.time(), counter=used[0]), used[0]

    async def resolve(self, prefix: str, field: str, choice: str) -> AccountView:
        """End a conflict with the value the person chose."""
        aid = self.find(prefix)
        view = self.vault.account(aid)
        heads = view.conflicts.get(field)
        if heads is None:
            raise InvalidAccount(field, f"{field} has no conflict to resolve")
        chosen = [h for h in heads if h.op.hex() == choice.lower()]
        if not chosen:
            raise BadRequest(f"{choice!r} is not one of the choices of this conflict", "choice")
        await self.write(lambda v: v.resolve(aid, field, chosen[0].value, now_ms()))
        return self.vault.account(aid)
