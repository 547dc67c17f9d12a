/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * The case runner: case descriptions, verdicts, the per-case context that
 * hands a case a fresh, negotiated connection to the server under test,
 * the device profile, and the target (a socket, or a server process that
 * vucert starts and restarts).
 */
#ifndef VUCERT_HARNESS_H
#define VUCERT_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "vucert/client.h"

/* docs/verdicts.md. The order is the wire order of results.json's
 * summary; severity for merging is the runner's (BLOCKED below FAIL). */
enum vuc_verdict {
    VUC_PASS = 0,
    VUC_IMPL_DEFINED,
    VUC_NON_STRICT,
    VUC_FAIL,
    VUC_ERROR,
    VUC_SKIP,
    VUC_BLOCKED, /* the server misbehaved in setup; names the root case */
    VUC_VERDICT_NR,
};

/* What the spec's own words make of a rule (docs/verdicts.md). */
enum vuc_level {
    VUC_MUST = 0, /* must, must not, cannot, is not allowed, only: FAIL */
    VUC_SHOULD,   /* should, is expected to, recommended, or a kernel rule */
    VUC_MAY,      /* may, optional, or silence: IMPL-DEFINED */
};

const char *vuc_verdict_name(enum vuc_verdict v); /* "PASS", "NON-STRICT" */
const char *vuc_level_name(enum vuc_level l);     /* "MUST", "SHOULD" */
/* The level a source keyword gives: "kernel uAPI" and "should ..." give
 * SHOULD, "may ..." and "silent" MAY, anything else MUST. */
enum vuc_level vuc_source_level(const char *source);
/* The verdict a violated rule of that level gets: FAIL, NON-STRICT or
 * IMPL-DEFINED. */
enum vuc_verdict vuc_level_verdict(enum vuc_level l);

struct vuc_ctx;
struct vuc_seq;
struct vuc_case;

typedef void (*vuc_case_fn)(struct vuc_ctx *ctx, const struct vuc_case *c);

struct vuc_case {
    char id[64];
    char title[128];
    const char *spec;     /* spec section it checks */
    const char *source;   /* the sentence's keyword ("must only include",
                             "should", "kernel uAPI", "silent") */
    enum vuc_level level; /* from source */
    vuc_case_fn run;
    uint32_t a, b; /* parameters (the matrix: from, to) */
    const void *arg;
};

/* ---- device profile (profiles/README.md) ---- */

#define VUC_PROFILE_MAX_WRITES 16

struct vuc_reg_ref {
    uint32_t region;
    uint64_t offset;
    uint32_t size; /* 1, 2, 4 or 8 for values; any for byte arrays */
};

enum vuc_value_kind {
    VUC_VALUE_CONST = 0, /* the value given */
    VUC_VALUE_IOVA,      /* "{iova}": the address vucert chose */
    VUC_VALUE_LENGTH,    /* "{length}": the length vucert chose */
};

struct vuc_reg_write {
    struct vuc_reg_ref reg;
    uint64_t value;
    enum vuc_value_kind kind;
};

/* A precondition: what the device needs done before a SET from -> to
 * (profiles/README.md, "preconditions"). */
#define VUC_PROFILE_MAX_PRE   8
#define VUC_PROFILE_ANY_STATE 0xffffffffu
struct vuc_precondition {
    uint32_t from, to; /* a state, or VUC_PROFILE_ANY_STATE */
    struct vuc_reg_write writes[VUC_PROFILE_MAX_WRITES];
    size_t n_writes;
    bool drain_stream; /* read the save stream to its end first */
};

struct vuc_profile {
    char *path;
    char *name;
    bool has_error_injection;
    struct vuc_reg_write err_writes[VUC_PROFILE_MAX_WRITES];
    size_t n_err_writes;
    uint32_t err_trigger_from; /* state the trigger SET starts from */
    uint32_t err_trigger_to;
    bool has_trace;
    struct vuc_reg_ref trace_count;
    struct vuc_reg_ref trace_states;
    bool has_digest; /* a digest of the whole device state */
    struct vuc_reg_ref digest;
    /* writes that change the device state while it runs (dirty it) */
    struct vuc_reg_write mut_writes[VUC_PROFILE_MAX_WRITES];
    size_t n_mut_writes;
    /* writes that make the device DMA-write {length} bytes at {iova} */
    struct vuc_reg_write dma_writes[VUC_PROFILE_MAX_WRITES];
    size_t n_dma_writes;
    bool has_dma_status; /* a register reading 0 when the DMA worked */
    struct vuc_reg_ref dma_status;
    /* writes that make the device DMA-read {length} bytes at {iova} */
    struct vuc_reg_write dma_reads[VUC_PROFILE_MAX_WRITES];
    size_t n_dma_reads;
    bool has_dma_read_status;
    struct vuc_reg_ref dma_read_status;
    /* bytes the device image (stream.roundtrip without state_digest)
     * leaves out: registers that change by themselves, not device state */
    struct vuc_reg_ref image_exclude[VUC_PROFILE_MAX_WRITES];
    size_t n_image_exclude;
    struct vuc_precondition pre[VUC_PROFILE_MAX_PRE];
    size_t n_pre;
};

/* Load a profile. Errors: -ENOENT, -EINVAL (with a message in err). */
int vuc_profile_load(const char *path, struct vuc_profile *p, char *err,
                     size_t errcap);
void vuc_profile_free(struct vuc_profile *p);

/* ---- target: where the server under test is ---- */

struct vuc_target {
    const char *socket;     /* --socket, or the path vucert made */
    const char *server_cmd; /* --server-cmd template, or NULL */
    char *cmd;              /* template with {socket} substituted */
    char *tmpdir;           /* owned temp dir for socket and logs */
    char *stderr_path;      /* server stderr capture */
    pid_t pid;              /* > 0 while vucert runs the server */
    pid_t watch_pid;        /* --server-pid: a server vucert only watches */
    pid_t pgid;             /* the started process's group, kept after it
                               exits (what it left behind is ended too) */
    pid_t daemon_pid;       /* > 0: the started process exited 0 and this
                               one serves its socket: it daemonized */
    int pass_fd;            /* > 0: given to the server as fd 3 (--fd=3);
                               there is no socket file to wait for */
    unsigned restarts;
    int timeout_ms;
    char last_death[256];   /* how the server last died, "" if it did not */
    unsigned failed_starts; /* restarts in a row that did not come up */
    /* Set when the server can no longer be used (a crash loop, or a hung
     * server vucert cannot restart): the case that brought it down, and
     * how; later cases are BLOCKED by it without waiting. */
    char down_by[64];
    char down_why[512];
    bool last_exit_clean;     /* ... and whether that was exit status 0 */
    int last_status;          /* ... and its wait status */
    bool exits_on_disconnect; /* it ends (status 0) when its client leaves */
};

/* Start the server (server_cmd set) and wait for its socket. */
int vuc_target_start(struct vuc_target *t, char *err, size_t errcap);
/* true if vucert runs the server and it has exited (reaps it and fills
 * last_death). */
bool vuc_target_died(struct vuc_target *t);
/* The start of the first line of a server's stderr text that tells of
 * its own failure (a sanitizer or valgrind report, an assertion), or
 * NULL. */
const char *vuc_telling_line(const char *txt);
/* The pid of the process listening on the target's socket (SO_PEERCRED of
 * a fresh connection, taken at its listen()), or 0 if none answers. */
pid_t vuc_target_listener(const struct vuc_target *t);
/* Is pid the process p or one of its descendants (/proc)? */
bool vuc_pid_descends(pid_t pid, pid_t p);
/* The server command with the option that carries {socket} replaced by
 * arg: "srv -s {socket} -v" with "--fd=3" gives "srv --fd=3 -v". The
 * token holding {socket} goes, and the option before it when the token
 * is {socket} alone and that option has no '='. NULL: out of memory. */
char *vuc_target_cmd_with(const char *tmpl, const char *arg);
/* Release what prepare made (the temporary directory and its files). */
void vuc_target_cleanup(struct vuc_target *t);
/* The pid whose resources vucert can read (/proc), or 0. */
pid_t vuc_target_pid(const struct vuc_target *t);
/* Open fds and resident memory (KiB) of the server; -errno. */
int vuc_target_usage(const struct vuc_target *t, long *fds, long *rss_kib);
/* Size of the stderr capture so far (0 without one). */
long vuc_target_stderr_size(const struct vuc_target *t);
/* The stderr the server wrote from offset `from` on, or NULL. Caller
 * frees. */
char *vuc_target_stderr_since(const struct vuc_target *t, long from,
                              size_t max_bytes);

/* Stop the server vucert started (SIGTERM, then SIGKILL). */
void vuc_target_stop(struct vuc_target *t);
/* After a client of a server that exits on disconnect has left: wait for
 * the exit (up to 2 s) and start it again. No-op for other servers. */
int vuc_target_after_disconnect(struct vuc_target *t, char *err, size_t errcap);

/* SIGKILL the server vucert started (a hung server may ignore SIGTERM)
 * and reap it. */
void vuc_target_kill(struct vuc_target *t);
/* Wait up to timeout_ms for the server to exit, without reaping it. */
bool vuc_target_wait_exit(struct vuc_target *t, int timeout_ms);
/* Does a server vucert runs still serve? A new connection's VERSION is
 * answered (1) or the server exits (0), whichever comes first; < 0 when
 * neither does within timeout_ms. */
int vuc_target_answers(struct vuc_target *t, int timeout_ms);

/* Stop and start again. */
int vuc_target_restart(struct vuc_target *t, char *err, size_t errcap);
/* The last lines of the server's stderr capture, "" if none. Caller
 * frees. */
char *vuc_target_stderr_tail(struct vuc_target *t, size_t max_bytes);

/* ---- results ---- */

struct vuc_result {
    const struct vuc_case *c;
    enum vuc_verdict verdict;
    char *reason;      /* what was expected and what was seen */
    char *exchange;    /* the message trace that showed it (non-PASS) */
    char *root_cause;  /* BLOCKED: the case that judges what blocked it */
    char *notes;       /* violations tolerated because other cases own them */
    unsigned checks;   /* checks the case made */
    bool no_migration; /* SKIP: the device does not support migration */
    double duration_ms;
};

/* How much of the spec traceability table the cases check
 * (vuc_spec_coverage). */
struct vuc_coverage {
    size_t rows;      /* every row */
    size_t checkable; /* rows that can be checked over the wire */
    size_t covered;   /* rows with a case */
};

struct vuc_spec_row;

struct vuc_run_info {
    const char *tool_version;
    const char *target_desc; /* socket path or command */
    const char *dest_desc;   /* migration destination, or NULL */
    bool negotiated;
    uint16_t major, minor;
    char *server_json; /* the server's VERSION JSON */
    uint64_t mig_flags;
    bool mig_flags_known;
    const char *profile; /* path or NULL */
    double duration_ms;
    long long started;        /* wall clock at the start, Unix seconds */
    const char *command_line; /* how vucert was run, shell-quoted */
    int timeout_ms;           /* --timeout */
    bool strict;              /* --strict */
    bool shuffled;            /* --shuffle SEED */
    uint64_t shuffle_seed;
    struct vuc_coverage coverage; /* rows 0: not known */
    /* the spec traceability table, for the HTML report (NULL: none) */
    const struct vuc_spec_row *spec_rows;
    size_t n_spec_rows;
};

/* ---- the per-case context ---- */

struct vuc_options {
    int timeout_ms;
    bool strict;
    bool verbose;
    uint64_t stream_limit;  /* longest migration stream vucert reads */
    const char *record_dir; /* --record: every message into this dir */
    const char *seq_dir;    /* --save-sequences: each connection's
                               requests, a reproducer per connection */
};

struct vuc_ctx {
    struct vuc_target *target;
    struct vuc_target *dest;           /* migration destination, or NULL */
    const struct vuc_profile *profile; /* NULL if none */
    const struct vuc_options *opts;
    struct vuc_run_info *info;
    struct vuc_client *cl; /* the current connection */
    struct vuc_result *res;
    const struct vuc_case *c; /* the case running */
    long err_from;            /* the server's stderr size when it began */
    bool stopped;             /* a case ended itself (skip/error/blocked) */
    bool conn_lost; /* the server closed a connection during the case */
    bool timed_out; /* a wait for the server ran out: it may be hung */
    /* The case that judges the setup step running now, or NULL while the
     * case judges its own claim: what goes wrong in a setup step is
     * BLOCKED by its owner (a death and a hang included). */
    const char *setup_owner;
    struct vuc_seq *seq; /* --save-sequences: this connection's requests */
    unsigned seq_saved;  /* sequences this case saved */
};

/*
 * Give the case a fresh connection, negotiated with vucert's defaults.
 * Returns the client, or NULL after recording an ERROR/FAIL verdict
 * (the caller just returns).
 */
struct vuc_client *vuc_ctx_connect(struct vuc_ctx *ctx);
/* Connect without negotiating (negotiation cases). */
struct vuc_client *vuc_ctx_connect_raw(struct vuc_ctx *ctx);
/* Drop the current connection. */
void vuc_ctx_disconnect(struct vuc_ctx *ctx);

/* A second, negotiated connection to the migration destination (the
 * caller closes it). NULL after recording a verdict. */
struct vuc_client *vuc_ctx_connect_dest(struct vuc_ctx *ctx);

/*
 * Record a verdict with a reason. The most severe verdict of a case wins
 * (ERROR > FAIL > NON-STRICT > IMPL-DEFINED > PASS); SKIP ends the case.
 * For FAIL and NON-STRICT the current trace is attached as the exchange.
 */
void vuc_verdict(struct vuc_ctx *ctx, enum vuc_verdict v, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/*
 * A step owned by case `by` went wrong: BLOCKED naming it ("blocked by
 * fsm.RUNNING.STOP: after SET STOP, GET reads RUNNING"), which ends the
 * case; when `by` is the running case itself this is its own claim, and
 * the rule's verdict (FAIL for a MUST) is recorded instead.
 */
void vuc_blocked(struct vuc_ctx *ctx, const char *by, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The case judged its claim (a PASS needs at least one). Verdicts other
 * than PASS, SKIP, ERROR and BLOCKED count as checks too. */
void vuc_check(struct vuc_ctx *ctx);

/* A violation this case tolerates because another case owns it: kept in
 * the result's notes and in the trace. */
void vuc_note(struct vuc_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Enter a setup step owned by case `owner` (a string that outlives the
 * step); returns the previous owner, for vuc_setup_end. */
const char *vuc_setup_begin(struct vuc_ctx *ctx, const char *owner);
void vuc_setup_end(struct vuc_ctx *ctx, const char *prev);

/* Case registry (cases/): fills out with up to max cases, in run order,
 * and returns how many there are (call again with more room if larger). */
#define VUC_MAX_CASES 1024
size_t vuc_cases_all(struct vuc_case *out, size_t max);

/*
 * The spec traceability table (cases/spec_coverage.tsv, built in): one
 * row per normative sentence of the spec sections vucert covers, with the
 * cases that check it (ids or globs, space-separated) or the reason none
 * does ("not checkable: ..." or "uncovered: ...").
 */
struct vuc_spec_row {
    const char *id;       /* "dma.6" */
    const char *section;  /* the spec section */
    const char *keyword;  /* "must", "should", ... */
    const char *sentence; /* the sentence as the spec words it */
    const char *cases;    /* "" when none */
    const char *reason;   /* "" when cases is not */
};

/* The rows, parsed once (they live until exit). 0, or -EBADMSG with the
 * line in err when the table is malformed, -ENOMEM. */
int vuc_spec_rows(const struct vuc_spec_row **rows, size_t *n, char *err,
                  size_t errcap);
/* Does the row name case `id` (an id or a glob of its case list)? */
bool vuc_spec_row_names(const struct vuc_spec_row *r, const char *id);
/* Is the row checkable over the wire (no "not checkable" reason)? */
bool vuc_spec_row_checkable(const struct vuc_spec_row *r);

/* Count the table's rows; 0 or vuc_spec_rows's error. */
int vuc_spec_coverage(struct vuc_coverage *cov);

/* Glob match for --case / --exclude (fnmatch without FNM_PATHNAME). */
bool vuc_case_selected(const char *id, const char *const *include,
                       size_t n_include, const char *const *exclude,
                       size_t n_exclude);

/* Run one case with a fresh context; fills res. dest may be NULL. */
void vuc_run_case(struct vuc_target *t, struct vuc_target *dest,
                  const struct vuc_profile *p, const struct vuc_options *o,
                  struct vuc_run_info *info, const struct vuc_case *c,
                  struct vuc_result *res);

#endif /* VUCERT_HARNESS_H */
