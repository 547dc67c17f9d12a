/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vucert-server: the reference vfio-user device
 * (reference-server/README.md). A PCI device with a 4 KiB BAR0 register
 * file and a migratable state of configurable size, the full migration v2
 * state machine over vfio-user (DEVICE_FEATURE 1 and 2, MIG_DATA_READ/WRITE
 * with the stream of reference-server/STREAM.md), DMA_MAP/UNMAP with a
 * small DMA engine that writes client memory, DMA dirty-page logging
 * (DEVICE_FEATURE 6, 7, 8), fault injection and deliberate quirks.
 *
 * The library is single threaded and keeps no globals (but the
 * write-only sinks of the planted defects); every call takes the server
 * context. It never trusts the client: nothing a client sends makes it
 * abort, assert, leak or hang, unless a quirk or a planted defect made
 * for that is on. Register map, stream format, quirks and planted
 * defects: reference-server/README.md.
 */
#ifndef VUCERT_SERVER_H
#define VUCERT_SERVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct vuc_conn;
struct vuc_msg;
struct vuc_srv;

/*
 * Quirks: each makes the server deliberately wrong in exactly one way, so
 * that the conformance suite can prove each case catches its bug.
 * VUC_SRV_QUIRK_<X> is bit (1 << VUC_SRV_QUIRK_BIT_<X>); the names are
 * the ones --quirk accepts (see vuc_srv_quirk_name).
 */
enum vuc_srv_quirk_bit {
    VUC_SRV_QUIRK_BIT_STOPCOPY_TO_PRECOPY = 0, /* stopcopy-to-precopy-allowed */
    VUC_SRV_QUIRK_BIT_SAVING_INSIDE_PATH,      /* saving-state-inside-path */
    VUC_SRV_QUIRK_BIT_UNADVERTISED_STATE,      /* unadvertised-state-accepted */
    VUC_SRV_QUIRK_BIT_RESET_KEEPS_STATE,       /* reset-keeps-state */
    VUC_SRV_QUIRK_BIT_ERROR_WITH_PAYLOAD,      /* error-reply-with-payload */
    VUC_SRV_QUIRK_BIT_ERRNO_ZERO,              /* error-errno-zero */
    VUC_SRV_QUIRK_BIT_STALE_GET,               /* get-returns-stale-state */
    VUC_SRV_QUIRK_BIT_STATE8_ACCEPTED,         /* state-8-accepted */
    VUC_SRV_QUIRK_BIT_READ_PADS,               /* read-pads-to-requested */
    VUC_SRV_QUIRK_BIT_READ_IN_RUNNING,         /* read-allowed-in-running */
    VUC_SRV_QUIRK_BIT_WRITE_OUTSIDE_RESUMING,  /* write-allowed-outside-... */
    VUC_SRV_QUIRK_BIT_RESUME_TRUNCATED,        /* resume-accepts-truncated */
    VUC_SRV_QUIRK_BIT_RESUME_CORRUPT,          /* resume-accepts-corrupt */
    VUC_SRV_QUIRK_BIT_EOF_NOT_STICKY,          /* eof-not-sticky */
    VUC_SRV_QUIRK_BIT_READ_OVER_MAX,           /* read-over-max-accepted */
    VUC_SRV_QUIRK_BIT_PRECOPY_LOSES_DIRTY,     /* precopy-loses-dirty-state */
    VUC_SRV_QUIRK_BIT_REPORT_NOT_CLEARED,      /* report-not-cleared */
    VUC_SRV_QUIRK_BIT_REPORT_BIT_SHIFTED,      /* report-bit-shifted */
    VUC_SRV_QUIRK_BIT_REPORT_IGNORES_RANGES,   /* report-ignores-ranges */
    VUC_SRV_QUIRK_BIT_REPORT_WRONG_SCALING,    /* report-wrong-scaling */
    VUC_SRV_QUIRK_BIT_START_BAD_PAGE_SIZE,     /* start-accepts-bad-page-size */
    VUC_SRV_QUIRK_BIT_REPORT_BEFORE_START,     /* report-before-start-... */
    VUC_SRV_QUIRK_BIT_UNMAP_KEEPS_LOGGING,     /* unmap-keeps-logging */
    VUC_SRV_QUIRK_BIT_OVERLAP_ACCEPTED,        /* overlap-accepted */
    VUC_SRV_QUIRK_BIT_VERSION_MAJOR_MISMATCH,  /* version-major-mismatch */
    VUC_SRV_QUIRK_BIT_VERSION_MINOR_ABOVE,     /* version-minor-above */
    VUC_SRV_QUIRK_BIT_CAPS_SUPERSET,           /* caps-superset */
    VUC_SRV_QUIRK_BIT_JSON_REQUIRED,           /* json-required */
    VUC_SRV_QUIRK_BIT_JSON_MALFORMED_ACCEPTED, /* json-malformed-accepted */
    VUC_SRV_QUIRK_BIT_MAX_XFER_EXCLUSIVE,      /* max-xfer-exclusive */
    VUC_SRV_QUIRK_BIT_MIG_FLAGS_EXTRA_BIT,     /* migration-flags-extra-bit */
    VUC_SRV_QUIRK_BIT_PROBE_REPLY_DIFFERS,     /* probe-reply-differs */
    VUC_SRV_QUIRK_BIT_GET_SET_ACCEPTED,        /* get-set-accepted */
    VUC_SRV_QUIRK_BIT_UNKNOWN_FEATURE,         /* unknown-feature-accepted */
    VUC_SRV_QUIRK_BIT_ARGSZ_IGNORED,           /* argsz-ignored */
    VUC_SRV_QUIRK_BIT_SAME_STATE_REJECTED,     /* same-state-rejected */
    VUC_SRV_QUIRK_BIT_RESET_GOES_TO_STOP,      /* reset-goes-to-stop */
    VUC_SRV_QUIRK_BIT_PROBE_START_FAILS,       /* probe-start-fails */
    VUC_SRV_QUIRK_BIT_PROBE_STOP_REPORT_FAIL,  /* probe-stop-report-fail */
    VUC_SRV_QUIRK_BIT_START_TWICE,             /* start-twice-accepted */
    VUC_SRV_QUIRK_BIT_START_OVERFLOW,          /* start-overflow-accepted */
    VUC_SRV_QUIRK_BIT_START_UNALIGNED,         /* start-unaligned-accepted */
    VUC_SRV_QUIRK_BIT_REPORT_BAD_PAGE,         /* report-bad-page-accepted */
    VUC_SRV_QUIRK_BIT_STOP_KEEPS_LOGGING,      /* stop-keeps-logging */
    VUC_SRV_QUIRK_BIT_LEAK_FD,                 /* leak-fd-per-connection */
    VUC_SRV_QUIRK_BIT_SHORT_SIZE_IGNORED,      /* short-size-ignored */
    VUC_SRV_QUIRK_BIT_REPLY_TYPE_IGNORED,      /* reply-type-ignored */
    VUC_SRV_QUIRK_BIT_ERROR_FLAG_IGNORED,      /* error-flag-ignored */
    VUC_SRV_QUIRK_BIT_PARTIAL_DROPPED,         /* partial-message-dropped */
    VUC_SRV_QUIRK_BIT_PIPELINE_DROPS,          /* pipeline-drops */
    VUC_SRV_QUIRK_BIT_REFUSE_AFTER_PARTIAL,    /* refuse-after-partial */
    VUC_SRV_QUIRK_BIT_PLANTED_CRASH,           /* planted-crash */
    VUC_SRV_QUIRK_BIT_LOGGING_KEPT,            /* logging-kept-on-reconnect */
    VUC_SRV_QUIRK_BIT_HANG_ON_ZERO_READ,       /* hang-on-zero-read */
    VUC_SRV_QUIRK_BIT_EXIT_AFTER_CLIENT,       /* exit-after-client */
    VUC_SRV_QUIRK_BIT_CRASH_LOOP,              /* crash-loop */
    VUC_SRV_QUIRK_BIT_MIG_FLAGS_ZERO,          /* migration-flags-zero */
    VUC_SRV_QUIRK_BIT_NO_MIGRATION,            /* no-migration */
    VUC_SRV_QUIRK_BIT_MAX_XFER_ABOVE,          /* max-xfer-above-proposal */
    VUC_SRV_QUIRK_BIT_REPLY_FD_ATTACHED,       /* reply-fd-attached */
    VUC_SRV_QUIRK_BIT_READ_REPLY_PADDED,       /* read-reply-padded */
    VUC_SRV_QUIRK_COUNT
};
_Static_assert(VUC_SRV_QUIRK_COUNT <= 64, "quirks are bits of a uint64_t");

#define VUC_SRV_QUIRK(b)                  (1ull << VUC_SRV_QUIRK_BIT_##b)
#define VUC_SRV_QUIRK_STOPCOPY_TO_PRECOPY VUC_SRV_QUIRK(STOPCOPY_TO_PRECOPY)
#define VUC_SRV_QUIRK_SAVING_INSIDE_PATH  VUC_SRV_QUIRK(SAVING_INSIDE_PATH)
#define VUC_SRV_QUIRK_UNADVERTISED_STATE  VUC_SRV_QUIRK(UNADVERTISED_STATE)
#define VUC_SRV_QUIRK_RESET_KEEPS_STATE   VUC_SRV_QUIRK(RESET_KEEPS_STATE)
#define VUC_SRV_QUIRK_ERROR_WITH_PAYLOAD  VUC_SRV_QUIRK(ERROR_WITH_PAYLOAD)
#define VUC_SRV_QUIRK_ERRNO_ZERO          VUC_SRV_QUIRK(ERRNO_ZERO)
#define VUC_SRV_QUIRK_STALE_GET           VUC_SRV_QUIRK(STALE_GET)
#define VUC_SRV_QUIRK_STATE8_ACCEPTED     VUC_SRV_QUIRK(STATE8_ACCEPTED)
#define VUC_SRV_QUIRK_READ_PADS           VUC_SRV_QUIRK(READ_PADS)
#define VUC_SRV_QUIRK_READ_IN_RUNNING     VUC_SRV_QUIRK(READ_IN_RUNNING)
#define VUC_SRV_QUIRK_WRITE_OUTSIDE_RESUMING                                   \
    VUC_SRV_QUIRK(WRITE_OUTSIDE_RESUMING)
#define VUC_SRV_QUIRK_RESUME_TRUNCATED      VUC_SRV_QUIRK(RESUME_TRUNCATED)
#define VUC_SRV_QUIRK_RESUME_CORRUPT        VUC_SRV_QUIRK(RESUME_CORRUPT)
#define VUC_SRV_QUIRK_EOF_NOT_STICKY        VUC_SRV_QUIRK(EOF_NOT_STICKY)
#define VUC_SRV_QUIRK_READ_OVER_MAX         VUC_SRV_QUIRK(READ_OVER_MAX)
#define VUC_SRV_QUIRK_PRECOPY_LOSES_DIRTY   VUC_SRV_QUIRK(PRECOPY_LOSES_DIRTY)
#define VUC_SRV_QUIRK_REPORT_NOT_CLEARED    VUC_SRV_QUIRK(REPORT_NOT_CLEARED)
#define VUC_SRV_QUIRK_REPORT_BIT_SHIFTED    VUC_SRV_QUIRK(REPORT_BIT_SHIFTED)
#define VUC_SRV_QUIRK_REPORT_IGNORES_RANGES VUC_SRV_QUIRK(REPORT_IGNORES_RANGES)
#define VUC_SRV_QUIRK_REPORT_WRONG_SCALING  VUC_SRV_QUIRK(REPORT_WRONG_SCALING)
#define VUC_SRV_QUIRK_START_BAD_PAGE_SIZE   VUC_SRV_QUIRK(START_BAD_PAGE_SIZE)
#define VUC_SRV_QUIRK_REPORT_BEFORE_START   VUC_SRV_QUIRK(REPORT_BEFORE_START)
#define VUC_SRV_QUIRK_UNMAP_KEEPS_LOGGING   VUC_SRV_QUIRK(UNMAP_KEEPS_LOGGING)
#define VUC_SRV_QUIRK_OVERLAP_ACCEPTED      VUC_SRV_QUIRK(OVERLAP_ACCEPTED)
#define VUC_SRV_QUIRK_VERSION_MAJOR_MISMATCH                                   \
    VUC_SRV_QUIRK(VERSION_MAJOR_MISMATCH)
#define VUC_SRV_QUIRK_VERSION_MINOR_ABOVE VUC_SRV_QUIRK(VERSION_MINOR_ABOVE)
#define VUC_SRV_QUIRK_CAPS_SUPERSET       VUC_SRV_QUIRK(CAPS_SUPERSET)
#define VUC_SRV_QUIRK_JSON_REQUIRED       VUC_SRV_QUIRK(JSON_REQUIRED)
#define VUC_SRV_QUIRK_JSON_MALFORMED_ACCEPTED                                  \
    VUC_SRV_QUIRK(JSON_MALFORMED_ACCEPTED)
#define VUC_SRV_QUIRK_MAX_XFER_EXCLUSIVE  VUC_SRV_QUIRK(MAX_XFER_EXCLUSIVE)
#define VUC_SRV_QUIRK_MIG_FLAGS_EXTRA_BIT VUC_SRV_QUIRK(MIG_FLAGS_EXTRA_BIT)
#define VUC_SRV_QUIRK_PROBE_REPLY_DIFFERS VUC_SRV_QUIRK(PROBE_REPLY_DIFFERS)
#define VUC_SRV_QUIRK_GET_SET_ACCEPTED    VUC_SRV_QUIRK(GET_SET_ACCEPTED)
#define VUC_SRV_QUIRK_UNKNOWN_FEATURE     VUC_SRV_QUIRK(UNKNOWN_FEATURE)
#define VUC_SRV_QUIRK_ARGSZ_IGNORED       VUC_SRV_QUIRK(ARGSZ_IGNORED)
#define VUC_SRV_QUIRK_SAME_STATE_REJECTED VUC_SRV_QUIRK(SAME_STATE_REJECTED)
#define VUC_SRV_QUIRK_RESET_GOES_TO_STOP  VUC_SRV_QUIRK(RESET_GOES_TO_STOP)
#define VUC_SRV_QUIRK_PROBE_START_FAILS   VUC_SRV_QUIRK(PROBE_START_FAILS)
#define VUC_SRV_QUIRK_PROBE_STOP_REPORT_FAIL                                   \
    VUC_SRV_QUIRK(PROBE_STOP_REPORT_FAIL)
#define VUC_SRV_QUIRK_START_TWICE          VUC_SRV_QUIRK(START_TWICE)
#define VUC_SRV_QUIRK_START_OVERFLOW       VUC_SRV_QUIRK(START_OVERFLOW)
#define VUC_SRV_QUIRK_START_UNALIGNED      VUC_SRV_QUIRK(START_UNALIGNED)
#define VUC_SRV_QUIRK_REPORT_BAD_PAGE      VUC_SRV_QUIRK(REPORT_BAD_PAGE)
#define VUC_SRV_QUIRK_STOP_KEEPS_LOGGING   VUC_SRV_QUIRK(STOP_KEEPS_LOGGING)
#define VUC_SRV_QUIRK_LEAK_FD              VUC_SRV_QUIRK(LEAK_FD)
#define VUC_SRV_QUIRK_SHORT_SIZE_IGNORED   VUC_SRV_QUIRK(SHORT_SIZE_IGNORED)
#define VUC_SRV_QUIRK_REPLY_TYPE_IGNORED   VUC_SRV_QUIRK(REPLY_TYPE_IGNORED)
#define VUC_SRV_QUIRK_ERROR_FLAG_IGNORED   VUC_SRV_QUIRK(ERROR_FLAG_IGNORED)
#define VUC_SRV_QUIRK_PARTIAL_DROPPED      VUC_SRV_QUIRK(PARTIAL_DROPPED)
#define VUC_SRV_QUIRK_PIPELINE_DROPS       VUC_SRV_QUIRK(PIPELINE_DROPS)
#define VUC_SRV_QUIRK_REFUSE_AFTER_PARTIAL VUC_SRV_QUIRK(REFUSE_AFTER_PARTIAL)
#define VUC_SRV_QUIRK_PLANTED_CRASH        VUC_SRV_QUIRK(PLANTED_CRASH)
#define VUC_SRV_QUIRK_LOGGING_KEPT         VUC_SRV_QUIRK(LOGGING_KEPT)
#define VUC_SRV_QUIRK_HANG_ON_ZERO_READ    VUC_SRV_QUIRK(HANG_ON_ZERO_READ)
#define VUC_SRV_QUIRK_EXIT_AFTER_CLIENT    VUC_SRV_QUIRK(EXIT_AFTER_CLIENT)
#define VUC_SRV_QUIRK_CRASH_LOOP           VUC_SRV_QUIRK(CRASH_LOOP)
#define VUC_SRV_QUIRK_MIG_FLAGS_ZERO       VUC_SRV_QUIRK(MIG_FLAGS_ZERO)
#define VUC_SRV_QUIRK_NO_MIGRATION         VUC_SRV_QUIRK(NO_MIGRATION)
#define VUC_SRV_QUIRK_MAX_XFER_ABOVE       VUC_SRV_QUIRK(MAX_XFER_ABOVE)
#define VUC_SRV_QUIRK_REPLY_FD_ATTACHED    VUC_SRV_QUIRK(REPLY_FD_ATTACHED)
#define VUC_SRV_QUIRK_READ_REPLY_PADDED    VUC_SRV_QUIRK(READ_REPLY_PADDED)
#define VUC_SRV_QUIRKS_KNOWN               ((1ull << VUC_SRV_QUIRK_COUNT) - 1)

/*
 * Targeted bugs (--bug NAME): each handles one input wrongly, narrower
 * than a quirk and costing no quirk bit; they exist so that every case of
 * vucert can be shown to fail for its own claim. VUC_SRV_BUG_<X> is bit
 * (1 << VUC_SRV_BUG_BIT_<X>) of vuc_srv_opts.bugs; the names are the ones
 * --bug accepts (see vuc_srv_bug_name). Besides these, vuc_srv_opts.arcs
 * (--bug arc=FROM:TO) decides single state transitions the other way.
 */
enum vuc_srv_bug_bit {
    VUC_SRV_BUG_BIT_SHORT_PAYLOAD = 0,     /* short-payload-accepted */
    VUC_SRV_BUG_BIT_OVERSIZED,             /* oversized-accepted */
    VUC_SRV_BUG_BIT_UNKNOWN_COMMAND,       /* unknown-command-accepted */
    VUC_SRV_BUG_BIT_ARGSZ_BELOW_MIN,       /* argsz-below-min-dropped */
    VUC_SRV_BUG_BIT_ARGSZ_HUGE,            /* argsz-huge-dropped */
    VUC_SRV_BUG_BIT_DMA_OFFSET_NO_FD,      /* dma-offset-without-fd-accepted */
    VUC_SRV_BUG_BIT_DMA_TWO_FDS,           /* dma-two-fds-accepted */
    VUC_SRV_BUG_BIT_FEATURE_FLAGS,         /* feature-unknown-flags-accepted */
    VUC_SRV_BUG_BIT_MINOR_ZERO_REFUSED,    /* minor-zero-refused */
    VUC_SRV_BUG_BIT_GET_UNSUPPORTED,       /* get-reads-unsupported */
    VUC_SRV_BUG_BIT_WRITE_ODD_REFUSED,     /* write-odd-size-refused */
    VUC_SRV_BUG_BIT_STOP_COPY_NEEDS_END,   /* stop-copy-exit-needs-end */
    VUC_SRV_BUG_BIT_UNMAP_REFUSED,         /* unmap-refused */
    VUC_SRV_BUG_BIT_STIMULUS_FAILS,        /* dma-stimulus-fails */
    VUC_SRV_BUG_BIT_START_REFUSED,         /* start-refused */
    VUC_SRV_BUG_BIT_START_NO_PAGE_SIZE,    /* start-reply-without-page-size */
    VUC_SRV_BUG_BIT_STOP_REFUSED,          /* stop-refused */
    VUC_SRV_BUG_BIT_ALL_RANGES_NOTHING,    /* all-ranges-logs-nothing */
    VUC_SRV_BUG_BIT_PRECOPY_RESTARTS,      /* precopy-stream-restarts */
    VUC_SRV_BUG_BIT_DMA_OVERLAP,           /* dma-map-overlap-accepted */
    VUC_SRV_BUG_BIT_UNMAP_ANY,             /* unmap-inexact-accepted */
    VUC_SRV_BUG_BIT_BEFORE_VERSION,        /* command-before-version-served */
    VUC_SRV_BUG_BIT_NOT_PCI,               /* device-info-not-pci */
    VUC_SRV_BUG_BIT_PROBE_ANY_METHOD,      /* probe-ignores-methods */
    VUC_SRV_BUG_BIT_SET_REPLY_DIFFERS,     /* set-reply-differs */
    VUC_SRV_BUG_BIT_START_REPLY_SHORT,     /* start-reply-drops-ranges */
    VUC_SRV_BUG_BIT_ERRNO_INVALID,         /* errno-invalid */
    VUC_SRV_BUG_BIT_REUSED_ID_DROPPED,     /* reused-id-dropped */
    VUC_SRV_BUG_BIT_DISCONNECT_RESETS,     /* disconnect-resets-device */
    VUC_SRV_BUG_BIT_SIGTERM_IGNORED,       /* sigterm-ignored */
    VUC_SRV_BUG_BIT_RESUME_DISCARDS,       /* resume-discards-data */
    VUC_SRV_BUG_BIT_REPLAY_FIRST_REGS,     /* save-replays-first-registers */
    VUC_SRV_BUG_BIT_CONFIG_READ_REFUSED,   /* config-read-refused */
    VUC_SRV_BUG_BIT_WRITE_REPLY_ECHOES,    /* write-reply-echoes */
    VUC_SRV_BUG_BIT_WRITE_ZERO_ENDS,       /* write-zero-ends-stream */
    VUC_SRV_BUG_BIT_LIMIT_OWN,             /* limit-ignores-proposal */
    VUC_SRV_BUG_BIT_START_ALL_DIRTY,       /* start-marks-all-dirty */
    VUC_SRV_BUG_BIT_FEATURE_SHORT_DATA,    /* feature-short-data-accepted */
    VUC_SRV_BUG_BIT_START_NUM_RANGES,      /* start-num-ranges-trusted */
    VUC_SRV_BUG_BIT_DAEMONIZE,             /* daemonize */
    VUC_SRV_BUG_BIT_SOCKET_PATH_REFUSED,   /* socket-path-refused */
    VUC_SRV_BUG_BIT_FD_REFUSED,            /* fd-refused */
    VUC_SRV_BUG_BIT_CLOSES_STDIO,          /* closes-stdio */
    VUC_SRV_BUG_BIT_INFO_NONZERO_DROPPED,  /* info-nonzero-dropped */
    VUC_SRV_BUG_BIT_UNMAP_KEEPS_MAPPING,   /* unmap-keeps-mapping */
    VUC_SRV_BUG_BIT_DMA_WRITE_OWN_LIMIT,   /* dma-write-ignores-limit */
    VUC_SRV_BUG_BIT_DMA_UNMAPPED_SENDS,    /* dma-unmapped-sends */
    VUC_SRV_BUG_BIT_IRQ_FDS_KEPT,          /* irq-fds-kept */
    VUC_SRV_BUG_BIT_DMA_READ_LOGGED,       /* dma-read-logged */
    VUC_SRV_BUG_BIT_REGION_INFO_EXTRA_FDS, /* region-info-extra-fds */
    VUC_SRV_BUG_BIT_TWIN_DECLINED,         /* twin-socket-declined */
    VUC_SRV_BUG_BIT_TWIN_UNUSED,           /* twin-socket-unused */
    VUC_SRV_BUG_BIT_UNKNOWN_BODY_UNREAD,   /* unknown-command-body-unread */
    VUC_SRV_BUG_BIT_REPORT_PADDED,         /* report-bitmap-padded */
    VUC_SRV_BUG_BIT_REPORT_ONE_MAPPING,    /* report-one-mapping */
    VUC_SRV_BUG_BIT_REPORT_UNLOGGED,       /* report-unlogged-dirty */
    VUC_SRV_BUG_BIT_MAX_MSG_NO_ROOM,       /* max-msg-no-room */
    VUC_SRV_BUG_BIT_LIMIT_ECHOES,          /* limit-echoes-proposal */
    VUC_SRV_BUG_COUNT
};
_Static_assert(VUC_SRV_BUG_COUNT < 64, "bugs are bits of a uint64_t");

#define VUC_SRV_BUG(b)     (1ull << VUC_SRV_BUG_BIT_##b)
#define VUC_SRV_BUGS_KNOWN ((1ull << VUC_SRV_BUG_COUNT) - 1)
/* The idle deadline when vuc_srv_opts.idle_ms is 0: far longer than any
 * wait of vucert's (its timeout defaults to 5 s). */
#define VUC_SRV_IDLE_DEFAULT_MS 60000
/* Room in vuc_srv_opts.arcs: one byte of target states per state. */
#define VUC_SRV_ARC_STATES 8

/*
 * Chaos modes (--chaos NAME): a deliberately hostile server, to prove that
 * a client (vucert) survives one: it must end within its timeouts, never
 * crash, and say what was wrong. Unlike a quirk, a chaos mode breaks the
 * transport, not the protocol's semantics: requests are still handled as
 * usual, only the reply that goes out is mangled. VERSION replies are
 * never touched, so a client can always connect and negotiate. Which
 * replies are mangled: vuc_srv_opts.chaos_every and .chaos_cmd; what
 * each mode does: reference-server/README.md, "Chaos modes". One mode
 * at a time; VUC_SRV_CHAOS_NONE is the default.
 */
enum vuc_srv_chaos {
    VUC_SRV_CHAOS_NONE = 0,
    VUC_SRV_CHAOS_TRUNCATED_REPLY,         /* truncated-reply */
    VUC_SRV_CHAOS_WRONG_MESSAGE_ID,        /* wrong-message-id */
    VUC_SRV_CHAOS_REPLY_NEVER_SENT,        /* reply-never-sent */
    VUC_SRV_CHAOS_CLOSE_MID_REPLY,         /* close-mid-reply */
    VUC_SRV_CHAOS_OVERSIZED_MSG_SIZE,      /* oversized-msg-size */
    VUC_SRV_CHAOS_GARBAGE_BYTES,           /* garbage-bytes */
    VUC_SRV_CHAOS_ERROR_FLAG_WITH_PAYLOAD, /* error-flag-with-payload */
    VUC_SRV_CHAOS_SLOW_DRIP,               /* slow-drip */
    VUC_SRV_CHAOS_COUNT
};

/*
 * Planted defects (--plant NAME, repeatable): memory and crash bugs of
 * the kind a fuzzer exists to find, planted so that the tests can prove
 * that `vucert fuzz` and `vucert replay` find and reproduce them. Unlike
 * quirks and bugs, no conformance case judges them (no protocol rule is
 * broken that a reply would show); two of them are invisible without a
 * sanitizer or valgrind. VUC_SRV_PLANT_<X> is a bit of
 * vuc_srv_opts.plants; what each does: reference-server/README.md,
 * "Planted defects". Off by default.
 */
enum vuc_srv_plant {
    /* overread: a DEVICE_FEATURE payload of 5..7 bytes is copied into a
     * heap block of exactly its length and a u32 at offset 4 is read
     * from it (1..3 bytes past the block) */
    VUC_SRV_PLANT_OVERREAD = 1u << 0,
    /* leak: every DEVICE_GET_IRQ_INFO handled leaks a 64-byte block */
    VUC_SRV_PLANT_LEAK = 1u << 1,
    /* abort-sequence: abort() on a DEVICE_RESET that follows, on one
     * connection, a DEVICE_GET_REGION_INFO and then a DEVICE_SET_IRQS */
    VUC_SRV_PLANT_ABORT_SEQUENCE = 1u << 2,
};
#define VUC_SRV_PLANT_COUNT  3u
#define VUC_SRV_PLANTS_KNOWN ((1u << VUC_SRV_PLANT_COUNT) - 1u)

/* The size an oversized-msg-size reply header declares. */
#define VUC_SRV_CHAOS_OVERSIZE 0x7fffffffu
/* slow-drip: bytes sent one at a time, and the pause between them. */
#define VUC_SRV_CHAOS_DRIP_BYTES 64u
#define VUC_SRV_CHAOS_DRIP_US    2000u
/* garbage-bytes: bytes sent instead of a reply. */
#define VUC_SRV_CHAOS_GARBAGE_LEN 64u

/* --logging-page-size: the logging page sizes a device may have (those
 * a LOGGING_START hint is clamped to). */
#define VUC_SRV_LOG_PAGE_MIN 4096ull
#define VUC_SRV_LOG_PAGE_MAX (1ull << 30)

/* Largest --max-data-xfer-size accepted (it also bounds one message). */
#define VUC_SRV_MAX_XFER_LIMIT (64u * 1024u * 1024u)

/*
 * The migratable state (--state-size): a multiple of 4096 bytes between
 * VUC_SRV_STATE_SIZE_MIN and VUC_SRV_STATE_SIZE_MAX; mmap'ed, so pages
 * never written cost no memory.
 */
#define VUC_SRV_STATE_SIZE_DEFAULT (1ull << 20)
#define VUC_SRV_STATE_SIZE_MIN     4096ull
#define VUC_SRV_STATE_SIZE_MAX     (16ull << 30)
#define VUC_SRV_STATE_ALIGN        4096ull

/* Default wait for a reply to be accepted by the socket, in ms. */
#define VUC_SRV_SEND_TIMEOUT_MS 5000

/*
 * Optional allocator, so tests can fail the Nth allocation. All zero
 * means malloc/free, and mmap for state images; with hooks, state images
 * come from alloc too (and are zeroed, so they cost their full size).
 * alloc returns NULL on failure.
 */
struct vuc_srv_alloc {
    void *(*alloc)(void *ctx, size_t size);
    void (*release)(void *ctx, void *p);
    void *ctx;
};

struct vuc_srv_opts {
    uint64_t mig_flags; /* VUC_MIGRATION_* set, one of vuc_fsm_flag_sets */
    uint64_t quirks;    /* VUC_SRV_QUIRK_* bits */
    uint64_t bugs;      /* VUC_SRV_BUG_* bits */
    /* arcs[from] bit `to`: a SET from -> to is decided the other way
     * (refused where it must succeed, taken directly where it must be
     * refused) */
    uint8_t arcs[VUC_SRV_ARC_STATES];
    size_t max_data_xfer_size; /* server's limit; 0 means 1 MiB */
    bool verbose;              /* one line per message on stderr */
    /* A connected client that completes no message for this long is
     * dropped, so that a client that sends nothing, or stops in the
     * middle of a message, cannot keep the next one waiting for ever
     * (--idle-timeout). 0: VUC_SRV_IDLE_DEFAULT_MS; < 0: never. */
    int idle_ms;
    int send_timeout_ms; /* reply send timeout; 0 means default */
    uint64_t state_size; /* bytes of migratable state; 0: 1 MiB */
    /* Most bytes of dirty bitmap all logged ranges may need together; a
     * LOGGING_START (or a mapping logged by num_ranges 0) beyond it gets
     * ENOMEM. 0: 4 GiB. A REPORT reads up to this much, so fuzz_server
     * keeps it small. */
    uint64_t log_bitmap_max;
    /* A failed RESUMING -> STOP leaves the device in ERROR rather than
     * RESUMING (--resume-fail-to-error). */
    bool resume_fail_to_error;
    /* A device with a precondition (--require-arm): a SET that enters
     * RUNNING from another state is refused (EBUSY) unless BAR0 ARM
     * (0x4c) reads 1; every SET clears ARM. */
    bool require_arm;
    /* The device's own dirty-logging granularity (--logging-page-size):
     * 0 logs at the page size LOGGING_START hints (clamped), else a power
     * of two from VUC_SRV_LOG_PAGE_MIN to VUC_SRV_LOG_PAGE_MAX that START
     * uses whatever the hint, and returns as the page size it selected. */
    uint64_t logging_page_size;
    struct vuc_srv_alloc alloc;
    /* Chaos (enum vuc_srv_chaos; 0 none). It mangles the chaos_every-th
     * eligible reply of each connection (0 or 1: every one); eligible are
     * the replies after VERSION to requests of command chaos_cmd (0: any
     * command but VERSION). */
    uint32_t chaos;
    uint32_t chaos_every;
    uint16_t chaos_cmd;
    uint32_t plants; /* enum vuc_srv_plant bits (--plant) */
};

/* Fill o with the defaults: stop-copy,pre-copy, no quirks, 1 MiB data
 * transfers, 1 MiB of state. */
void vuc_srv_opts_init(struct vuc_srv_opts *o);

/*
 * Create a server with a device in its power-on state (migration state
 * RUNNING). o may be NULL for the defaults. Errors: -EINVAL (flag set not
 * one of the four valid sets, unknown quirk, bug or plant bits,
 * max_data_xfer_size above VUC_SRV_MAX_XFER_LIMIT, state_size out of
 * range or not a multiple of VUC_SRV_STATE_ALIGN, chaos >=
 * VUC_SRV_CHAOS_COUNT, logging_page_size
 * neither 0 nor a power of two in [VUC_SRV_LOG_PAGE_MIN,
 * VUC_SRV_LOG_PAGE_MAX]), -ENOMEM.
 */
int vuc_srv_new(const struct vuc_srv_opts *o, struct vuc_srv **out);
/* Free everything (NULL is fine). Does not close any connection. */
void vuc_srv_free(struct vuc_srv *s);

/*
 * Handle one received message m (a whole message as vuc_conn_recv returns
 * it) and send its reply on c, unless the request set No_reply. m stays
 * owned by the caller, who releases it. A REGION_WRITE that rings the DMA
 * doorbell for memory mapped without an fd sends VFIO_USER_DMA_WRITE
 * requests on c first and waits for their replies (up to the send
 * timeout each); commands that arrive meanwhile are kept and handled, in
 * order, by the next vuc_srv_serve. Returns:
 *   -EINVAL       s, c or m is NULL
 *   0             handled (successfully or with an error reply)
 *   -ECONNABORTED the server wants the connection closed (VERSION with an
 *                 unsupported major: the error reply has been sent; chaos
 *                 close-mid-reply: half the reply has been sent)
 *   the errno of vuc_conn_sendv when the reply could not be sent
 *                 (-EPIPE, -ETIMEDOUT, ...): drop the connection
 */
int vuc_srv_handle(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m);

/*
 * Receive and handle messages on c until the peer closes, the server
 * drops the connection, or nothing arrives within timeout_ms (< 0 waits
 * forever; the in-memory transport never waits). Returns:
 *   0             the peer closed (vuc_srv_disconnect has been called)
 *   -ECONNABORTED the server dropped the connection: unsupported major,
 *                 an undecodable header, a reply that could not be sent,
 *                 or chaos close-mid-reply (vuc_srv_disconnect has been
 *                 called)
 *   -EAGAIN, -ETIMEDOUT  nothing more arrived; the connection is intact
 *   -ENOMEM
 *   -EINVAL       s or c is NULL
 * c is never closed here; the caller owns it.
 */
int vuc_srv_serve(struct vuc_srv *s, struct vuc_conn *c, int timeout_ms);

/*
 * The client went away: forget the negotiation (the next client must send
 * VERSION again) and per-connection resources: every DMA mapping is
 * unmapped, DMA logging stops, commands kept while waiting for a DMA
 * reply are dropped. The device state, the migration state and any
 * migration data session are kept (spec: Client Disconnection). Quirk
 * logging-kept-on-reconnect keeps the mappings and the logging too.
 */
void vuc_srv_disconnect(struct vuc_srv *s);

/*
 * Serve socket_path with an epoll loop: one client at a time (others wait
 * in the listen backlog), SIGINT/SIGTERM through a signalfd. SIGPIPE is
 * set to ignored and SIGINT/SIGTERM are blocked for the calling thread
 * while it runs (the old mask is restored on return). Removes the socket
 * file on exit. Returns 0 after a SIGINT/SIGTERM (quirk exit-after-client:
 * also as soon as the first client is gone), or a negative errno when
 * setup or the event loop fails (-ENAMETOOLONG, socket/bind/listen/epoll
 * errors). Quirk crash-loop aborts the process on its second connection,
 * and at once when an earlier run left socket_path + ".crashed".
 */
int vuc_srv_run(struct vuc_srv *s, const char *socket_path);
/* Serve one client on an already connected socket (Backend Program
 * Conventions: --fd=FDNUM) until it leaves or a signal arrives; the fd is
 * the server's from then on. */
int vuc_srv_run_fd(struct vuc_srv *s, int fd);

/* The current migration state (enum vuc_mig_state). */
uint32_t vuc_srv_mig_state(const struct vuc_srv *s);

/* true once VERSION has been negotiated on the current connection. */
bool vuc_srv_negotiated(const struct vuc_srv *s);

/*
 * Parse a --state-size value: decimal or 0x hex bytes, optionally with a
 * K, M or G suffix (powers of 1024). Checks the range and alignment of
 * vuc_srv_new. Errors: -EINVAL.
 */
int vuc_srv_size_parse(const char *text, uint64_t *out);

/* Quirk i's --quirk name (i < VUC_SRV_QUIRK_COUNT), else NULL. */
const char *vuc_srv_quirk_name(unsigned i);
/* Quirk i's one-line description, else NULL. */
const char *vuc_srv_quirk_desc(unsigned i);
/* Map a --quirk name to its bit (VUC_SRV_QUIRK_*). Errors: -EINVAL. */
int vuc_srv_quirk_parse(const char *name, uint64_t *bit);
/* Bug names and one-line descriptions, for i < VUC_SRV_BUG_COUNT. */
const char *vuc_srv_bug_name(unsigned i);
const char *vuc_srv_bug_desc(unsigned i);
/*
 * Parse one --bug argument into o: a bug name, or arc=FROM:TO with state
 * names (or "*" for every state) on either side. 0, or -EINVAL.
 */
int vuc_srv_bug_parse(const char *text, struct vuc_srv_opts *o);

/* Chaos mode i's --chaos name (0 < i < VUC_SRV_CHAOS_COUNT), else NULL. */
const char *vuc_srv_chaos_name(unsigned i);
/* Chaos mode i's one-line description, else NULL. */
const char *vuc_srv_chaos_desc(unsigned i);
/* Map a --chaos name to its enum vuc_srv_chaos value. Errors: -EINVAL. */
int vuc_srv_chaos_parse(const char *name, uint32_t *mode);

/* Plant i's --plant name (i < VUC_SRV_PLANT_COUNT; its bit is 1 << i),
 * else NULL. */
const char *vuc_srv_plant_name(unsigned i);
/* Plant i's one-line description, else NULL. */
const char *vuc_srv_plant_desc(unsigned i);
/* Map a --plant name to its bit (VUC_SRV_PLANT_*). Errors: -EINVAL. */
int vuc_srv_plant_parse(const char *name, uint32_t *bit);

#endif /* VUCERT_SERVER_H */
