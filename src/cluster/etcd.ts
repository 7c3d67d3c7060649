/**
 * The one file that knows the etcd client library (npm `etcd3`, gRPC). Everything else in
 * src/cluster talks to this small surface: ranges read at one revision, multi-op
 * transactions, a lease kept alive, prefix watches from a revision. `etcd3` is an optional
 * peer dependency, loaded only when a node is started with etcd endpoints, so a single
 * node never loads gRPC (docs/cluster.md says why this client).
 */
import type { Etcd3, IKeyValue, IOptions, IRequestOp, ITxnRequest, ITxnResponse, Watcher } from "etcd3";

export interface Kv {
  key: string;
  value: string;
  createRevision: number;
  modRevision: number;
}

export interface WatchEvent {
  type: "put" | "delete";
  kv: Kv;
}

/** A put, a delete or a delete of everything under a prefix, in one transaction. */
export type Op = { put: string; value: string; lease?: string } | { del: string } | { delPrefix: string };

/** "Create" = the key does not exist yet when value is 0 */
export interface Compare {
  key: string;
  target: "create" | "mod" | "value";
  op: "==" | "!=" | "<" | ">";
  value: number | string;
  /** compare every key under `key` (etcd's range compare); an empty range compares as one absent key */
  prefix?: boolean;
}

const enc = (s: string): Buffer => Buffer.from(s, "utf8");

function kvOf(k: IKeyValue): Kv {
  return { key: k.key.toString("utf8"), value: k.value.toString("utf8"), createRevision: Number(k.create_revision), modRevision: Number(k.mod_revision) };
}

/** etcd's range_end for "every key starting with prefix" */
function prefixEnd(prefix: string): Buffer {
  const b = Buffer.from(prefix, "utf8");
  for (let i = b.length - 1; i >= 0; i--) {
    if (b[i]! < 0xff) {
      const end = Buffer.from(b.subarray(0, i + 1));
      end[i]!++;
      return end;
    }
  }
  return Buffer.from([0]);
}

function opOf(o: Op): IRequestOp {
  if ("put" in o) return { request_put: { key: enc(o.put), value: enc(o.value), ...(o.lease ? { lease: o.lease } : {}) } };
  if ("del" in o) return { request_delete_range: { key: enc(o.del) } };
  return { request_delete_range: { key: enc(o.delPrefix), range_end: prefixEnd(o.delPrefix) } };
}

/** gRPC keepalive: a ping every 0.5 s on a busy connection, dead after 0.5 s more without an answer (well inside the election lease: a node whose lease keepalive is on a silent connection must move it before it fences itself, TTL - 0.5 s after its last success) */
const KEEPALIVE_MS = 500;
const KEEPALIVE_TIMEOUT_MS = 500;

/** a lease renewal with no answer after max(this, TTL / 2) is given up (the next tick asks every member) */
const RENEW_DEADLINE_MS = 1000;
/** One renewal of lease `id` on its own stream through `c`: the TTL etcd answers (0: expired). */
function renewOnce(c: Etcd3, id: string, deadline: number): Promise<number> {
  return new Promise((resolve, reject) => {
    c.leaseClient.leaseKeepAlive({ deadline }).then((stream) => {
      stream.on("data", (res: { TTL: string }) => {
        stream.end();
        resolve(Number(res.TTL));
      });
      stream.on("error", (e: Error) => reject(e));
      // a stream closed without an answer (after one, the promise is settled and this is a no-op)
      stream.on("end", () => reject(new Error("lease keepalive stream ended without an answer")));
      stream.write({ ID: id });
    }, reject);
  });
}

type FaultPolicy = ReturnType<NonNullable<NonNullable<IOptions["faultHandling"]>["host"]>>;
/** a fault-handling policy that runs each call once, as it is (no retry, no circuit breaker) */
const PASS_THROUGH = {
  async execute<T>(fn: (ctx: { signal: AbortSignal }) => T | Promise<T>): Promise<T> {
    return await fn({ signal: new AbortController().signal });
  },
} as unknown as FaultPolicy;

/** an endpoint as the etcd3 client wants it: with its scheme */
const hostUrl = (e: string): string => (/^https?:\/\//.test(e) ? e : `http://${e}`);

const TARGET = { create: "Create", mod: "Mod", value: "Value" } as const;
const RESULT = { "==": "Equal", "!=": "NotEqual", "<": "Less", ">": "Greater" } as const;

export interface TxnResult {
  succeeded: boolean;
  revision: number;
  /** what the branch that ran read, in order (null: no such key) */
  got: (Kv | null)[];
}

type TxnOp = Op | { get: string };
const txnOp = (o: TxnOp): IRequestOp => ("get" in o ? { request_range: { key: enc(o.get) } } : opOf(o));

function txnRequest(compare: Compare[], then: TxnOp[], otherwise: TxnOp[]): ITxnRequest {
  return {
    compare: compare.map((c) => ({
      key: enc(c.key),
      ...(c.prefix ? { range_end: prefixEnd(c.key) } : {}),
      target: TARGET[c.target],
      result: RESULT[c.op],
      ...(c.target === "create" ? { create_revision: c.value } : c.target === "mod" ? { mod_revision: c.value } : { value: enc(String(c.value)) }),
    })),
    success: then.map(txnOp),
    failure: otherwise.map(txnOp),
  };
}

function txnResult(r: ITxnResponse): TxnResult {
  const got = (r.responses ?? []).filter((x) => x.response_range).map((x) => (x.response_range.kvs[0] ? kvOf(x.response_range.kvs[0]) : null));
  return { succeeded: r.succeeded, revision: Number(r.header.revision), got };
}

/** how long an urgent transaction's first copy waits for its member before it goes to every member */
const URGENT_FIRST_TRY_MS = 1000;

export class EtcdClient {
  private members: Etcd3[] | null = null;
  /** the member that last answered a lease renewal or an urgent transaction: the next one goes there first */
  private preferred = 0;

  private constructor(
    private readonly c: Etcd3,
    readonly endpoints: string[],
    private readonly options: IOptions,
    private readonly timeoutMs: number,
  ) {}

  /** Connect and check that etcd answers (a clear error at start rather than hanging later). */
  static async connect(endpoints: string[], timeoutMs = 5000): Promise<EtcdClient> {
    let mod: typeof import("etcd3");
    try {
      mod = await import("etcd3");
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === "ERR_MODULE_NOT_FOUND") throw new Error("clustering needs the etcd3 package (npm install etcd3)");
      throw e;
    }
    const hosts = endpoints.map(hostUrl);
    const options: IOptions = {
      hosts,
      dialTimeout: timeoutMs,
      // HTTP/2 pings on every connection with calls or streams on it: a connection whose member
      // became unreachable (a partition that drops packets rather than resetting the connection)
      // fails within KEEPALIVE_MS + KEEPALIVE_TIMEOUT_MS, and its lease keepalive, watch and
      // calls move to another endpoint. Without them, a watch on such a member stayed silent and
      // a lease keepalive or transaction waited out its deadline (docs/chaos.md, isolate-leader).
      // etcd enforces --grpc-keepalive-min-time (default 5s) on clients: run it with 500ms or less
      // (docs/cluster.md); against the default, grpc-js doubles the interval after each refusal.
      grpcOptions: { "grpc.keepalive_time_ms": KEEPALIVE_MS, "grpc.keepalive_timeout_ms": KEEPALIVE_TIMEOUT_MS, "grpc.keepalive_permit_without_calls": 0 },
      // unary calls fail after a bound instead of waiting forever on a lost majority
      defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeoutMs }),
    };
    const c = new mod.Etcd3(options);
    const client = new EtcdClient(c, endpoints, options, timeoutMs);
    try {
      await client.range("\u0000probe");
    } catch (e) {
      c.close();
      throw new Error(`cannot reach etcd at ${endpoints.join(",")}: ${(e as Error).message}`);
    }
    return client;
  }

  /** One key (or every key under a prefix), and the store revision they were read at. */
  async range(key: string, prefix = false): Promise<{ kvs: Kv[]; revision: number }> {
    const r = await this.c.kv.range({ key: enc(key), ...(prefix ? { range_end: prefixEnd(key), sort_target: "Create", sort_order: "Ascend" } : {}) });
    return { kvs: r.kvs.map(kvOf), revision: Number(r.header.revision) };
  }

  async get(key: string): Promise<Kv | null> {
    return (await this.range(key)).kvs[0] ?? null;
  }

  /** A transaction: if every compare holds, `then` runs, else `otherwise`; both may read keys back. */
  async txn(compare: Compare[], then: TxnOp[], otherwise: TxnOp[] = []): Promise<TxnResult> {
    return txnResult(await this.c.kv.txn(txnRequest(compare, then, otherwise)));
  }

  /**
   * A transaction whose answer is waited for (an ISR change holds every confirm of its queue):
   * to the member that answered last (lease renewals, every TTL/4, keep that fresh), and if that
   * one has not answered within URGENT_FIRST_TRY_MS, to every member at once; the first answer
   * counts. The shared client picks a member at random and waits out the whole deadline on one
   * cut off from etcd's leader (it still answers pings, so the connection looks healthy): 5 s
   * more on a confirm gap in half of the isolate-follower cycles (docs/chaos.md).
   *
   * Only for transactions that do the same whether they run once or more than once (a put
   * guarded by compares it leaves true, with reads in `otherwise` to tell an earlier copy's
   * success from a refusal): an unanswered copy may still be applied.
   */
  async txnUrgent(compare: Compare[], then: TxnOp[], otherwise: TxnOp[] = [], opts: { everyMemberAtOnce?: boolean; deadlineMs?: number } = {}): Promise<TxnResult> {
    const req = txnRequest(compare, then, otherwise);
    const members = this.perMember();
    const first = this.preferred;
    // everyMemberAtOnce: for a write made because something already failed (a leader suspected
    // dead, whose etcd member may be the one we prefer), not worth the first try's second
    if (!opts.everyMemberAtOnce) {
      try {
        return txnResult(await members[first]!.kv.txn(req, { deadline: Date.now() + URGENT_FIRST_TRY_MS }));
      } catch {
        // unanswered or refused by that member (no leader): ask them all
      }
    }
    // deadlineMs: a caller that tries again soon anyway (a proposal made while etcd has no leader
    // is dropped, and its member answers only at the deadline; the next try reaches the new one)
    const deadline = Date.now() + (opts.deadlineMs ?? this.timeoutMs);
    try {
      return await Promise.any(
        members.map((m, i) =>
          m.kv.txn(req, { deadline }).then((r) => {
            this.preferred = i;
            return txnResult(r);
          }),
        ),
      );
    } catch (e) {
      const errs = e instanceof AggregateError ? e.errors : [e];
      throw new Error(`no etcd member answered: ${errs.map((x: Error) => x.message).join("; ")}`);
    }
  }

  /** Drop the history before `revision` (etcd's Compact); later revisions and every key's current value stay. */
  async compact(revision: number): Promise<void> {
    await this.c.kv.compact({ revision: String(revision), physical: false });
  }

  /**
   * A lease of `ttl` seconds, kept alive here; `onLost` once it cannot be renewed (etcd answers
   * that it expired, or nothing has renewed it for 2 x TTL).
   *
   * Not the library's keepalive loop: that one streams every renewal to one member, picked at
   * random, and moves only after a whole TTL without an answer. A member cut off from etcd's
   * leader but not from us (a partition between two etcd members) still answers pings but
   * renews nothing, so the lease expired at the leader while the stream waited, and a node that
   * nothing was wrong with fenced itself (docs/chaos.md, isolate-follower). Here every TTL/4 a
   * renewal goes, on a short stream with a deadline, to the member that answered last; once one
   * has gone unanswered, to every member at once until one answers.
   */
  async lease(ttl: number, onLost: (err: Error) => void, onKeepalive?: (firedAt: number) => void): Promise<{ id: string; ttl: number; revoke(): Promise<void> }> {
    const g = await this.c.leaseClient.leaseGrant({ TTL: ttl, ID: 0 });
    const id = String(g.ID);
    // etcd raises a TTL under 1.5 election timeouts to that minimum: renew (and count) by what it granted
    if (Number(g.TTL) > ttl) ttl = Number(g.TTL);
    const ttlMs = ttl * 1000;
    const tickMs = Math.max(100, ttlMs / 4);
    const deadlineMs = Math.max(RENEW_DEADLINE_MS, ttlMs / 2);
    const members = this.perMember();
    let okAt = Date.now();
    let over = false;
    let timer: NodeJS.Timeout | undefined;
    const lost = (err: Error): void => {
      if (over) return;
      over = true;
      clearInterval(timer);
      onLost(err);
    };
    const renewAt = (i: number, firedAt: number): void => {
      renewOnce(members[i]!, id, firedAt + deadlineMs).then(
        (left) => {
          if (over) return;
          if (left <= 0) return lost(new Error(`Lease ${id} is expired or revoked`));
          this.preferred = i;
          // a renewal extends the lease to TTL from when etcd received it, i.e. after it was sent
          if (firedAt > okAt) okAt = firedAt;
          onKeepalive?.(firedAt);
        },
        () => {},
      );
    };
    const renew = (): void => {
      if (over) return;
      const now = Date.now();
      if (now - okAt > 2 * ttlMs) return lost(new Error(`Lease ${id} not renewed for ${now - okAt} ms; it has expired`));
      // the last tick's renewal is unanswered: ask every member, the first answer counts
      if (now - okAt > tickMs * 1.5) for (let i = 0; i < members.length; i++) renewAt(i, now);
      else renewAt(this.preferred, now);
    };
    timer = setInterval(renew, tickMs);
    timer.unref();
    renew();
    return {
      id,
      ttl,
      revoke: () => {
        over = true;
        clearInterval(timer);
        return this.c.leaseClient.leaseRevoke({ ID: id }).then(
          () => {},
          () => {},
        );
      },
    };
  }

  /**
   * One client per etcd member (lease renewals and urgent transactions choose their member; the
   * shared client picks at random). Without the library's fault handling: its circuit breaker
   * (open for 5 s after 3 failures in a row) shut a healthy member out for 5 s after etcd had
   * elected a new leader, because the calls made during the election failed; renewals then failed
   * on every member and a node that nothing was wrong with lost its lease and fenced itself
   * (docs/chaos.md, leader suspicion). These clients have deadlines and their own choice of member.
   */
  private perMember(): Etcd3[] {
    if (!this.members) {
      const Ctor = this.c.constructor as new (o: IOptions) => Etcd3;
      const faultHandling = { host: () => PASS_THROUGH, global: PASS_THROUGH };
      this.members = this.endpoints.map((e) => new Ctor({ ...this.options, hosts: hostUrl(e), faultHandling }));
    }
    return this.members;
  }

  /** Every put/delete under prefix from `fromRevision` on, in revision order, batch by batch. */
  async watch(prefix: string, fromRevision: number, onEvents: (evs: WatchEvent[], revision: number) => void, onCanceled?: (err: Error) => void): Promise<{ close(): Promise<void> }> {
    const w: Watcher = await this.c.watch().prefix(prefix).startRevision(String(fromRevision)).create();
    w.on("data", (res) => {
      const evs: WatchEvent[] = [];
      for (const e of res.events) evs.push({ type: e.type === "Delete" ? "delete" : "put", kv: kvOf(e.kv) });
      if (evs.length > 0) onEvents(evs, Number(res.header.revision));
    });
    // a broken stream is reconnected by the client from the last revision it saw; a watch etcd
    // cancels (that revision was compacted away meanwhile) is gone for good
    w.on("error", (e: Error) => {
      if (/cancel/i.test(e.message)) onCanceled?.(e);
    });
    return { close: () => w.cancel() };
  }

  close(): void {
    this.c.close();
    for (const m of this.members ?? []) m.close();
  }
}
