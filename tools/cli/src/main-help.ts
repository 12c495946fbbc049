/**
 * The help of every `mfsim` command and subcommand (`--help`, `-h` or `help` anywhere after the
 * command words prints it and exits 0), the version, and the manners of the process itself: a
 * closed stdout (`mfsim … | head -1`) ends the command quietly.
 */

/** One help text per command path ('' is mfsim itself). */
export const HELP: Readonly<Record<string, string>> = {
  '': `mfsim — how persistent-memory failures travel through a Linux fs-DAX storage stack

usage:
  mfsim scenario run [--json] [--verbose] [--mode embedded|distributed] FILE|DIR...
  mfsim scenario check FILE|DIR...
  mfsim stack up|down|status
  mfsim incident list|show
  mfsim chaos run PLAN.yaml [--out DIR] [--seed N]
  mfsim chaos check [--json] HISTORY
  mfsim ui [--port N] [--scenario FILE|DIR]... [--history FILE]
  mfsim --version | --help

commands:
  scenario   run or validate scenario files (mfsim scenario --help)
  stack      a local Kafka, PostgreSQL, Redis and the five services (mfsim stack --help)
  incident   the incidents the stack journaled and their call trees (mfsim incident --help)
  chaos      run a chaos plan against the stack; check a history against the model (mfsim chaos --help)
  ui         a web page of the incidents, live, as waterfalls across the services (mfsim ui --help)

options:
  -h, --help      this text; after a command, that command's help
  -V, --version   the version of mfsim

exit status: 0 success, 1 a scenario's expectation does not hold (or a stack component is
down), 2 wrong usage or an invalid scenario file.

example:
  mfsim scenario run scenarios/examples/03-reflinked-block-two-owners.yaml

Scenario files: docs/scenario-format.md (JSON Schema: docs/scenario.schema.json).
Examples: scenarios/examples/, scenarios/spec/, scenarios/xfstests/.`,

  scenario: `usage:
  mfsim scenario run [--json] [--verbose] [--mode embedded|distributed] FILE|DIR...
  mfsim scenario check FILE|DIR...
  mfsim scenario schema

subcommands:
  run     validate, run in the embedded kernel model and compare with expect (mfsim scenario run --help)
  check   validate only (mfsim scenario check --help)
  schema  print the JSON Schema of the format (mfsim scenario schema --help)

A DIR stands for the .yaml/.yml files directly in it, in name order; a DIR without any is an
error. Anything that is neither a regular file nor a directory (a FIFO, a device) is refused.

exit status: 0 every scenario passes (run) or is valid (check), 1 an expectation does not hold,
2 wrong usage or an invalid file (each problem names the file, the field path and what is wrong).

example:
  mfsim scenario check scenarios/invalid/size-bad-suffix.yaml`,

  'scenario run': `usage: mfsim scenario run [--json] [--verbose] [--mode embedded|distributed] FILE|DIR...

Validates each file, runs it in the embedded kernel model (no servers needed), prints the
propagation tree of every injection and PASS/FAIL with every mismatch explained, then a
"N passed, N failed" line.

options:
  --json                one JSON object per scenario and line:
                        {"name","file","pass","outcome","mismatches"}
  -v, --verbose         also the set-up calls (dm tables, mounts, faults) and debug log lines
  --mode embedded       the kernel model in this process (the default)
  --mode distributed    the five services over Kafka (not available yet: exit 2)
  -h, --help            this text

exit status: 0 every scenario passes, 1 an expectation does not hold, 2 wrong usage, a file
that cannot be read, no scenario files in a DIR, or an invalid file.

example:
  mfsim scenario run --json scenarios/examples | head -1`,

  'scenario check': `usage: mfsim scenario check FILE|DIR...

Parses and validates each file without running it: prints "ok FILE (NAME)" for a valid file and
"FILE: FIELD.PATH: problem" on stderr for every problem found (all of them, not only the first).

options:
  -h, --help   this text

exit status: 0 every file is valid, 2 wrong usage, a file that cannot be read, no scenario
files in a DIR, or an invalid file.

example:
  mfsim scenario check scenarios/spec scenarios/invalid/missing-name.yaml`,

  'scenario schema': `usage: mfsim scenario schema

Prints the JSON Schema (draft-07) of the scenario format: the keys, which are required, their
types and spellings. docs/scenario.schema.json is this output; a YAML language server uses it to
complete and check scenario files. Checks between fields (overlaps, capacities, references,
limits) are made by \`mfsim scenario check\` only.

options:
  -h, --help   this text

exit status: 0, or 2 when given arguments.

example:
  mfsim scenario schema > docs/scenario.schema.json`,

  stack: `usage:
  mfsim stack up [--no-services] [--no-traces] [--timeout SECONDS]
  mfsim stack status
  mfsim stack down

subcommands:
  up      start Kafka (127.0.0.1:$MFSIM_KAFKA_PORT, default 19092), PostgreSQL and Redis if they
          are not running (and are installed), the mfsim database, its migrations, the topics and
          the five services (each on 127.0.0.1 unless HTTP_HOST says otherwise); wait for every /health
  status  one line per component: pid, port, health
  down    stop what up started (services, then Kafka; PostgreSQL/Redis only if up started them)

exit status: 0 success, 1 a component failed or is down, 2 wrong usage or bad configuration.

Environment: MFSIM_KAFKA_PORT, MFSIM_KAFKA_CONTROLLER_PORT (19093), MFSIM_KAFKA_HEAP_MB (384),
DATABASE_URL, REDIS_URL, MFSIM_TOPIC_PREFIX, MFSIM_REDIS_PREFIX. Logs: .mfsim/stack/<name>.log

example:
  mfsim stack up && mfsim stack status && mfsim stack down`,

  'stack up': `usage: mfsim stack up [--no-services] [--no-traces] [--proxies] [--timeout SECONDS]

Starts Kafka (a local broker JVM from the Maven jars), PostgreSQL and Redis if installed but
stopped, applies the migrations, creates the topics and starts the five services, then waits
for every GET /health. State and logs live in .mfsim/stack/. The services require an admin
token for state-changing requests: MFSIM_ADMIN_TOKEN, else a random one kept in state.json (0600).
It also starts Zipkin (the Maven jar, in-memory, 127.0.0.1:$MFSIM_ZIPKIN_PORT, default 9411) and
the services send it their traces: an incident's trace is
http://127.0.0.1:9411/zipkin/traces/<incident uuid without dashes>.

options:
  --no-services        start the servers, the database and the topics only
  --no-traces          start no Zipkin (the services do not trace)
  --proxies            route each service's Kafka, PostgreSQL and Redis traffic through the
                       stack's TCP proxy (edges <service>->kafka|postgres|redis, control API on
                       127.0.0.1:$MFSIM_PROXY_CONTROL_PORT, default 7890) for network faults
  --timeout SECONDS    how long to wait for each component to become ready
  -h, --help           this text

exit status: 0 everything is up, 1 a component failed to start (its log tail is printed),
2 wrong usage or bad configuration (a port in use, jars missing, PostgreSQL down).

example:
  mfsim stack up --timeout 180`,

  'stack status': `usage: mfsim stack status

Prints one line per component: pid, port and health.

options:
  -h, --help   this text

exit status: 0 every expected component is up, 1 something expected is down.

example:
  mfsim stack status`,

  'stack down': `usage: mfsim stack down

Stops what \`mfsim stack up\` started, by pid: the services, then Kafka; PostgreSQL and Redis
only if up started them.

options:
  -h, --help   this text

exit status: 0 stopped (or nothing to stop), 1 something could not be stopped.

example:
  mfsim stack down`,

  incident: `usage:
  mfsim incident list [--run RUN] [--limit N] [--json]
  mfsim incident show ID [--json] [--verbose]

subcommands:
  list   the incidents (root calls) the services journaled in PostgreSQL, newest first
  show   one incident: its header, the kernel call tree from the services' call records and
         how many calls each service served

Reads the database of DATABASE_URL (default postgresql://postgres@127.0.0.1:5432/mfsim, the one
\`mfsim stack up\` uses).

exit status: 0 success, 1 a database error, 2 wrong usage, a malformed or unknown ID, or a
database that cannot be reached (down, missing, migrations not applied).

example:
  mfsim incident list --limit 5`,

  'incident list': `usage: mfsim incident list [--run RUN] [--limit N] [--json]

One line per incident, newest first: id, run, the kernel function of the root call, its
arguments, status (open, done, panic, error), result and duration (finished - started), and
the link to its trace when a trace backend is known (MFSIM_TRACE_URL, or the Zipkin of
\`mfsim stack up\`).

options:
  --run RUN     only the incidents of that run
  --limit N     at most N incidents (1-10000, default 20)
  --json        one JSON object per incident and line: {"id","run","op","function","args",
                "service","status","result","startedAt","finishedAt","durationMs","traceId"[,"traceUrl"]}
  -h, --help    this text

exit status: 0 (also when there are none), 1 a database error, 2 wrong usage or a database that
cannot be reached.

example:
  mfsim incident list --json | head -1`,

  'incident show': `usage: mfsim incident show ID [--json] [--verbose]

Prints the incident (run, root call, status, start, duration, result), the kernel call tree
rebuilt from the call records the services stored (drawn as \`mfsim scenario run\` draws it;
colours on a terminal only) and how many calls each service served. An open incident shows
what has been recorded so far.

options:
  --json          the incident and every call record, one JSON object (bigints as {"$n":"..."})
  -v, --verbose   also the low-level lookups (get_dev_pagemap, badblocks_check)
  -h, --help      this text

exit status: 0 shown, 1 a database error, 2 wrong usage, an ID that is not a uuid, no such
incident, or a database that cannot be reached.

example:
  mfsim incident show 3f2b9c1e-8d4a-4b7e-9a61-0c5d2e7f4a10 --verbose`,

  ui: `usage: mfsim ui [--port N] [--host ADDR] [--scenario FILE|DIR]... [--history FILE]

Serves a web page of the incidents on http://127.0.0.1:7400/ until Ctrl-C: the list, live and
newest first, filtered by device, pfn, pid or status; for one incident its kernel call tree as a
waterfall across the five services (each hop's function, service, start and duration), the rmap
owners found, which processes got which signal and why (BUS_MCEERR_AR/AO, late/early kill,
forced, device removal), filesystem shutdowns, the dm path, the chaos faults of the same time
and a link to the incident's trace.

It reads the incidents the services recorded in PostgreSQL (DATABASE_URL, else the database of
\`mfsim stack up\` in .mfsim/stack/state.json, else postgresql://postgres@127.0.0.1:5432/mfsim).
With --scenario it runs the scenario files in-process with the embedded model instead and shows
their incidents (no times there: the waterfall shows the order of the calls).

options:
  --port N            the port (default 7400; 0: any free port)
  --host ADDR         the address to listen on (default 127.0.0.1)
  --scenario FILE|DIR run these scenario files embedded (repeatable)
  --history FILE      a chaos history (JSON Lines, docs/chaos-history.md): its faults on the timeline

environment:
  MFSIM_TRACE_URL     trace link template, e.g. http://127.0.0.1:9411/zipkin/traces/{traceId}
                      (else the stack state's traces.url; the trace id is the incident uuid without dashes)

The JSON API: GET /api/incidents?device=&pfn=&pid=&status=&run=&offset=&limit=,
/api/incidents/ID, /api/faults, /api/events (Server-Sent Events). A malformed filter or id is a
400, an unknown incident a 404, each with a one-line {"error"}.

exit status: 0 stopped by Ctrl-C, 2 wrong usage, a bad file, a port in use or no database.

examples:
  mfsim ui
  mfsim ui --scenario scenarios/examples --port 7401`,

  chaos: `usage:
  mfsim chaos run PLAN.yaml [--out DIR] [--seed N]
  mfsim chaos check [--json] HISTORY

subcommands:
  run     run a plan (topology, workload, faults) against the stack of mfsim stack up, record
          its history, check it and write the report (mfsim chaos run --help)
  check   check a recorded chaos history against the embedded model (mfsim chaos check --help)

A history is a JSON Lines file (docs/chaos-history.md): the run, the operations (invoke, then ok,
fail or info), the faults (start, effect, end), consumer-lag samples and the final state.
Named plans: scenarios/chaos/plans/.

exit status: 0 no anomaly, 1 an anomaly, 2 wrong usage or a history that cannot be read.

examples:
  mfsim chaos run scenarios/chaos/plans/kill-each-service.yaml
  mfsim chaos check scenarios/chaos/histories/clean.jsonl`,

  'chaos run': `usage: mfsim chaos run PLAN.yaml [--out DIR] [--seed N]

Runs a chaos plan (scenarios/chaos/plans/, README there) against the stack of mfsim stack up: sets
its machine up, sends its injections (several in flight), injects its faults on schedule (kill,
pause: any service or replica, kafka, redis, postgres with stack up --own-postgres), samples the
consumer lag, writes DIR/history.jsonl as it happens, then checks it against the embedded model
(as mfsim chaos check) and writes DIR/report.md, report.json and report.svg. Ctrl-C: no new
injection, the faults are healed, the run is still checked.

options:
  --out DIR     where the history and the report go (default .mfsim/chaos/<plan>-<time>)
  --seed N      override the plan's seed
  -h, --help    this text

exit status: 0 no anomaly, 1 an anomaly, 2 a bad plan (one line naming the field) or no stack.

example:
  mfsim chaos run scenarios/chaos/plans/kill-each-service.yaml`,

  'chaos check': `usage: mfsim chaos check [--json] HISTORY

Replays the operations the history acknowledged (ok; info and unfinished ones may or may not have
happened: the model is run with and without each, at most 12 of them) through the embedded model
and compares each rc and the final state. Prints one line per anomaly, by name:
  lost                    acknowledged, but the incident is missing from the final records
  duplicate-signal        a signal in the final state (or an incident's record) more often
                          than the model sends it
  duplicate-unmap         an incident's records unmap one page-table entry twice
  wrong-outcome           an rc or a final-state field differs from the model (named)
  unfinished              invoked and never completed
  lag-not-drained         a consumer group's last lag sample is not 0
  fault-not-effective     a fault with a start but no effect line
  too-many-indeterminate  more than 12 info/unfinished operations to explore
then each fault's recovery time (its end → the operations invoked before it done and every
group's lag back at its level before the fault) and a
PASS/FAIL summary line. The scenario is the run line's text, or its file (relative to the
history's directory, else to the current one).

options:
  --json        one JSON object: {"file","ok","anomalies","recovery","stats"}
  -h, --help    this text

exit status: 0 no anomaly, 1 an anomaly, 2 wrong usage, a file that cannot be read, or a
malformed history (one line: FILE: line N: field "F": problem).

example:
  mfsim chaos check --json scenarios/chaos/histories/duplicate-signal.jsonl`,
};

const HELP_FLAGS = new Set(['--help', '-h']);

/**
 * The help text `args` ask for, or undefined: the command words before the first help flag
 * (`mfsim scenario run --help` → 'scenario run', `mfsim help scenario` → 'scenario'); an unknown
 * path gets its nearest known parent.
 */
export function helpFor(args: readonly string[]): string | undefined {
  if (args[0] === 'help') return helpFor([...args.slice(1), '--help']);
  const at = args.findIndex((a) => HELP_FLAGS.has(a));
  if (at < 0) return undefined;
  const words = args.slice(0, at).filter((a) => !a.startsWith('-'));
  for (let n = Math.min(words.length, 2); n >= 0; n--) {
    const text = HELP[words.slice(0, n).join(' ')];
    if (text !== undefined) return text;
  }
  return HELP[''];
}

export function mfsimVersion(): string {
  // dist/main-help.js → tools/cli/package.json
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return (require('../package.json') as { version: string }).version;
}

/**
 * Writing to a closed pipe (`mfsim scenario run … | head -1`) ends the process quietly with
 * exit 0: the reader has all it wanted, and a stack trace would only be noise.
 */
export function endQuietlyOnClosedPipe(): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'EPIPE') process.exit(0);
      throw err;
    });
  }
}
