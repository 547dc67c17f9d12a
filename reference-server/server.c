// SPDX-License-Identifier: BSD-3-Clause
/*
 * vucert-server core: context, the dispatch table generated from
 * msgs.def, reply construction (the one place error replies and the
 * reply-shaped quirks live; chaos modes mangle replies in chaos.c),
 * VERSION negotiation and the receive pump.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/mman.h>
#include <unistd.h>

#include <sanitizer/asan_interface.h>

#include "server_priv.h"
#include "vucert/codec.h"
#include "vucert/fsm.h"

/* ---- quirks ---- */

struct quirk_info {
    const char *name;
    const char *desc;
};

static const struct quirk_info quirk_table[VUC_SRV_QUIRK_COUNT] = {
    [VUC_SRV_QUIRK_BIT_STOPCOPY_TO_PRECOPY] =
        {"stopcopy-to-precopy-allowed",
         "STOP_COPY -> PRE_COPY(_P2P) is accepted as a direct arc"},
    [VUC_SRV_QUIRK_BIT_SAVING_INSIDE_PATH] =
        {"saving-state-inside-path",
         "combination paths detour through a saving state"},
    [VUC_SRV_QUIRK_BIT_UNADVERTISED_STATE] =
        {"unadvertised-state-accepted",
         "SET to a state the flag set does not support succeeds"},
    [VUC_SRV_QUIRK_BIT_RESET_KEEPS_STATE] =
        {"reset-keeps-state",
         "DEVICE_RESET leaves the migration state unchanged"},
    [VUC_SRV_QUIRK_BIT_ERROR_WITH_PAYLOAD] =
        {"error-reply-with-payload", "error replies carry 8 bytes of payload"},
    [VUC_SRV_QUIRK_BIT_ERRNO_ZERO] = {"error-errno-zero",
                                      "error replies carry errno 0"},
    [VUC_SRV_QUIRK_BIT_STALE_GET] =
        {"get-returns-stale-state",
         "MIG_DEVICE_STATE GET returns the state before the last SET"},
    [VUC_SRV_QUIRK_BIT_STATE8_ACCEPTED] =
        {"state-8-accepted",
         "SET of device_state >= 8 succeeds and changes nothing"},
    [VUC_SRV_QUIRK_BIT_READ_PADS] =
        {"read-pads-to-requested",
         "a short MIG_DATA_READ in STOP_COPY is padded with zeros"},
    [VUC_SRV_QUIRK_BIT_READ_IN_RUNNING] =
        {"read-allowed-in-running",
         "MIG_DATA_READ outside the saving states returns 0 bytes"},
    [VUC_SRV_QUIRK_BIT_WRITE_OUTSIDE_RESUMING] =
        {"write-allowed-outside-resuming",
         "MIG_DATA_WRITE outside RESUMING is accepted and discarded"},
    [VUC_SRV_QUIRK_BIT_RESUME_TRUNCATED] =
        {"resume-accepts-truncated",
         "RESUMING -> STOP loads a stream that lacks its end"},
    [VUC_SRV_QUIRK_BIT_RESUME_CORRUPT] = {"resume-accepts-corrupt",
                                          "resume does not verify checksums"},
    [VUC_SRV_QUIRK_BIT_EOF_NOT_STICKY] =
        {"eof-not-sticky", "after the end in STOP_COPY the stream starts over"},
    [VUC_SRV_QUIRK_BIT_READ_OVER_MAX] =
        {"read-over-max-accepted",
         "MIG_DATA_READ above max_data_xfer_size is served"},
    [VUC_SRV_QUIRK_BIT_PRECOPY_LOSES_DIRTY] =
        {"precopy-loses-dirty-state",
         "changes during PRE_COPY to data already sent are never sent"},
    [VUC_SRV_QUIRK_BIT_REPORT_NOT_CLEARED] =
        {"report-not-cleared", "LOGGING_REPORT does not clear what it reports"},
    [VUC_SRV_QUIRK_BIT_REPORT_BIT_SHIFTED] =
        {"report-bit-shifted",
         "LOGGING_REPORT sets bit n + 1 for the dirty page n"},
    [VUC_SRV_QUIRK_BIT_REPORT_IGNORES_RANGES] =
        {"report-ignores-ranges",
         "LOGGING_REPORT sets the tail bits of its last word for dirty pages "
         "past the range"},
    [VUC_SRV_QUIRK_BIT_REPORT_WRONG_SCALING] =
        {"report-wrong-scaling",
         "LOGGING_REPORT copies the log bit for bit whatever its page size"},
    [VUC_SRV_QUIRK_BIT_START_BAD_PAGE_SIZE] =
        {"start-accepts-bad-page-size",
         "LOGGING_START accepts page size 0 or a non-power of two and "
         "echoes it"},
    [VUC_SRV_QUIRK_BIT_REPORT_BEFORE_START] =
        {"report-before-start-accepted",
         "LOGGING_REPORT before any START on the connection returns an "
         "empty bitmap"},
    [VUC_SRV_QUIRK_BIT_UNMAP_KEEPS_LOGGING] =
        {"unmap-keeps-logging",
         "DMA_UNMAP of a logged range keeps its dirty pages"},
    [VUC_SRV_QUIRK_BIT_OVERLAP_ACCEPTED] =
        {"overlap-accepted",
         "LOGGING_START accepts overlapping ranges (and logs their union)"},
    [VUC_SRV_QUIRK_BIT_VERSION_MAJOR_MISMATCH] =
        {"version-major-mismatch",
         "the VERSION reply's major is the proposed major + 1"},
    [VUC_SRV_QUIRK_BIT_VERSION_MINOR_ABOVE] =
        {"version-minor-above",
         "the VERSION reply's minor is the proposed minor + 1"},
    [VUC_SRV_QUIRK_BIT_CAPS_SUPERSET] =
        {"caps-superset",
         "the VERSION reply lists every capability, proposed or not"},
    [VUC_SRV_QUIRK_BIT_JSON_REQUIRED] = {"json-required",
                                         "VERSION without version data is "
                                         "rejected"},
    [VUC_SRV_QUIRK_BIT_JSON_MALFORMED_ACCEPTED] =
        {"json-malformed-accepted",
         "VERSION with malformed JSON is accepted with the defaults"},
    [VUC_SRV_QUIRK_BIT_MAX_XFER_EXCLUSIVE] =
        {"max-xfer-exclusive",
         "a transfer of exactly max_data_xfer_size bytes is rejected"},
    [VUC_SRV_QUIRK_BIT_MIG_FLAGS_EXTRA_BIT] =
        {"migration-flags-extra-bit",
         "MIGRATION GET also sets flag bit 3, which the spec does not define"},
    [VUC_SRV_QUIRK_BIT_PROBE_REPLY_DIFFERS] =
        {"probe-reply-differs",
         "a successful PROBE reply echoes the flags without PROBE"},
    [VUC_SRV_QUIRK_BIT_GET_SET_ACCEPTED] =
        {"get-set-accepted", "DEVICE_FEATURE GET|SET without PROBE is a SET"},
    [VUC_SRV_QUIRK_BIT_UNKNOWN_FEATURE] =
        {"unknown-feature-accepted",
         "an unknown feature index gets a success reply echoing the request"},
    [VUC_SRV_QUIRK_BIT_ARGSZ_IGNORED] =
        {"argsz-ignored",
         "DEVICE_FEATURE GET, SET and LOGGING_REPORT ignore a small argsz"},
    [VUC_SRV_QUIRK_BIT_SAME_STATE_REJECTED] =
        {"same-state-rejected",
         "SET of the state the device is already in is rejected"},
    [VUC_SRV_QUIRK_BIT_RESET_GOES_TO_STOP] =
        {"reset-goes-to-stop", "DEVICE_RESET leaves the device in STOP"},
    [VUC_SRV_QUIRK_BIT_PROBE_START_FAILS] =
        {"probe-start-fails",
         "PROBE of DMA_LOGGING_START fails, though START works"},
    [VUC_SRV_QUIRK_BIT_PROBE_STOP_REPORT_FAIL] =
        {"probe-stop-report-fail",
         "PROBE of DMA_LOGGING_STOP and _REPORT fails, though they work"},
    [VUC_SRV_QUIRK_BIT_START_TWICE] =
        {"start-twice-accepted",
         "a second LOGGING_START while logging replaces the first"},
    [VUC_SRV_QUIRK_BIT_START_OVERFLOW] =
        {"start-overflow-accepted",
         "LOGGING_START ranges that wrap are accepted, cut at the top"},
    [VUC_SRV_QUIRK_BIT_START_UNALIGNED] =
        {"start-unaligned-accepted",
         "LOGGING_START ranges not aligned to the page are rounded out"},
    [VUC_SRV_QUIRK_BIT_REPORT_BAD_PAGE] =
        {"report-bad-page-accepted",
         "LOGGING_REPORT at a non-power-of-two page size is served at the "
         "power of two below"},
    [VUC_SRV_QUIRK_BIT_STOP_KEEPS_LOGGING] =
        {"stop-keeps-logging", "LOGGING_STOP succeeds but logging goes on"},
    [VUC_SRV_QUIRK_BIT_LEAK_FD] = {"leak-fd-per-connection",
                                   "every accepted connection leaks one fd"},
    [VUC_SRV_QUIRK_BIT_SHORT_SIZE_IGNORED] =
        {"short-size-ignored",
         "a message size below 16 gets no reply and the connection stays "
         "open (deaf)"},
    [VUC_SRV_QUIRK_BIT_REPLY_TYPE_IGNORED] =
        {"reply-type-ignored",
         "a Reply for a command the server never sends is dropped silently"},
    [VUC_SRV_QUIRK_BIT_ERROR_FLAG_IGNORED] =
        {"error-flag-ignored",
         "a request with the Error flag set is dropped silently"},
    [VUC_SRV_QUIRK_BIT_PARTIAL_DROPPED] =
        {"partial-message-dropped",
         "a client silent for 25 ms in the middle of a message is dropped"},
    [VUC_SRV_QUIRK_BIT_PIPELINE_DROPS] =
        {"pipeline-drops",
         "of several whole messages read together only the first is "
         "answered"},
    [VUC_SRV_QUIRK_BIT_REFUSE_AFTER_PARTIAL] =
        {"refuse-after-partial",
         "after a client leaves mid-message, the next connection is closed "
         "at once"},
    [VUC_SRV_QUIRK_BIT_PLANTED_CRASH] =
        {"planted-crash",
         "abort() on a SET of PRE_COPY_P2P when P2P is not advertised (a "
         "crash for vucert fuzz to find)"},
    [VUC_SRV_QUIRK_BIT_LOGGING_KEPT] =
        {"logging-kept-on-reconnect",
         "a disconnect neither unmaps DMA nor stops dirty logging"},
    [VUC_SRV_QUIRK_BIT_HANG_ON_ZERO_READ] =
        {"hang-on-zero-read",
         "MIG_DATA_READ of size 0 hangs the whole server for ever (only "
         "SIGKILL ends it)"},
    [VUC_SRV_QUIRK_BIT_EXIT_AFTER_CLIENT] =
        {"exit-after-client",
         "the server exits (status 0) as soon as its first client is gone"},
    [VUC_SRV_QUIRK_BIT_CRASH_LOOP] =
        {"crash-loop",
         "abort() on the 2nd connection, leaving PATH.crashed; abort() at "
         "start while it exists"},
    [VUC_SRV_QUIRK_BIT_MIG_FLAGS_ZERO] = {"migration-flags-zero",
                                          "MIGRATION GET returns flags 0"},
    [VUC_SRV_QUIRK_BIT_NO_MIGRATION] =
        {"no-migration",
         "features MIGRATION and MIG_DEVICE_STATE are ENOTTY, MIG_DATA_READ/"
         "WRITE EINVAL"},
    [VUC_SRV_QUIRK_BIT_MAX_XFER_ABOVE] =
        {"max-xfer-above-proposal",
         "the VERSION reply's max_data_xfer_size is 4 GiB, whatever was "
         "proposed"},
    [VUC_SRV_QUIRK_BIT_REPLY_FD_ATTACHED] =
        {"reply-fd-attached",
         "every successful DEVICE_FEATURE reply carries an extra fd"},
    [VUC_SRV_QUIRK_BIT_READ_REPLY_PADDED] =
        {"read-reply-padded",
         "MIG_DATA_READ replies padded with zeros to the size asked; size "
         "and argsz still count the data"},
};

const char *vuc_srv_quirk_name(unsigned i)
{
    return i < VUC_SRV_QUIRK_COUNT ? quirk_table[i].name : NULL;
}

const char *vuc_srv_quirk_desc(unsigned i)
{
    return i < VUC_SRV_QUIRK_COUNT ? quirk_table[i].desc : NULL;
}

int vuc_srv_quirk_parse(const char *name, uint64_t *bit)
{
    if (!name)
        return -EINVAL;
    for (unsigned i = 0; i < VUC_SRV_QUIRK_COUNT; i++) {
        if (strcmp(name, quirk_table[i].name) == 0) {
            *bit = 1ull << i;
            return 0;
        }
    }
    return -EINVAL;
}

/* ---- targeted bugs ---- */

static const struct quirk_info bug_table[VUC_SRV_BUG_COUNT] = {
    [VUC_SRV_BUG_BIT_SHORT_PAYLOAD] =
        {"short-payload-accepted",
         "a request shorter than its fixed part gets an empty success reply"},
    [VUC_SRV_BUG_BIT_OVERSIZED] =
        {"oversized-accepted",
         "a message above the largest the server takes gets a success reply"},
    [VUC_SRV_BUG_BIT_UNKNOWN_COMMAND] =
        {"unknown-command-accepted",
         "a command number the spec does not define gets a success reply"},
    [VUC_SRV_BUG_BIT_ARGSZ_BELOW_MIN] =
        {"argsz-below-min-dropped",
         "a request whose argsz is below its fixed part is never answered"},
    [VUC_SRV_BUG_BIT_ARGSZ_HUGE] =
        {"argsz-huge-dropped",
         "a request with argsz 0xffffffff is never answered"},
    [VUC_SRV_BUG_BIT_DMA_OFFSET_NO_FD] =
        {"dma-offset-without-fd-accepted",
         "DMA_MAP with a file offset but no fd maps as if the offset were 0"},
    [VUC_SRV_BUG_BIT_DMA_TWO_FDS] = {"dma-two-fds-accepted",
                                     "DMA_MAP with two fds maps the first"},
    [VUC_SRV_BUG_BIT_FEATURE_FLAGS] =
        {"feature-unknown-flags-accepted",
         "DEVICE_FEATURE ignores flag bits the spec does not define"},
    [VUC_SRV_BUG_BIT_MINOR_ZERO_REFUSED] =
        {"minor-zero-refused",
         "VERSION proposing minor 0 is refused, though minor 1 is taken"},
    [VUC_SRV_BUG_BIT_GET_UNSUPPORTED] =
        {"get-reads-unsupported",
         "MIG_DEVICE_STATE GET reads 8 in RUNNING, a state no device has"},
    [VUC_SRV_BUG_BIT_WRITE_ODD_REFUSED] =
        {"write-odd-size-refused",
         "MIG_DATA_WRITE of a size that is not a multiple of 8 is refused"},
    [VUC_SRV_BUG_BIT_STOP_COPY_NEEDS_END] =
        {"stop-copy-exit-needs-end",
         "STOP_COPY cannot be left before its stream has been read to the "
         "end"},
    [VUC_SRV_BUG_BIT_UNMAP_REFUSED] =
        {"unmap-refused", "DMA_UNMAP of a mapping fails with EBUSY"},
    [VUC_SRV_BUG_BIT_STIMULUS_FAILS] =
        {"dma-stimulus-fails",
         "the DMA doorbell (BAR0 DMA_GO) fails with EIO and writes nothing"},
    [VUC_SRV_BUG_BIT_START_REFUSED] =
        {"start-refused",
         "LOGGING_START of one or more ranges fails with EINVAL"},
    [VUC_SRV_BUG_BIT_START_NO_PAGE_SIZE] =
        {"start-reply-without-page-size",
         "the LOGGING_START reply carries no payload, so no page size"},
    [VUC_SRV_BUG_BIT_STOP_REFUSED] =
        {"stop-refused",
         "LOGGING_STOP while logging fails with EBUSY (logging goes on)"},
    [VUC_SRV_BUG_BIT_ALL_RANGES_NOTHING] =
        {"all-ranges-logs-nothing",
         "LOGGING_START with num_ranges 0 succeeds and logs nothing"},
    [VUC_SRV_BUG_BIT_DMA_OVERLAP] =
        {"dma-map-overlap-accepted",
         "DMA_MAP over an existing mapping gets a success reply (and maps "
         "nothing)"},
    [VUC_SRV_BUG_BIT_UNMAP_ANY] =
        {"unmap-inexact-accepted",
         "DMA_UNMAP that matches no mapping exactly gets a success reply"},
    [VUC_SRV_BUG_BIT_BEFORE_VERSION] =
        {"command-before-version-served",
         "commands before VERSION are served as if negotiated"},
    [VUC_SRV_BUG_BIT_NOT_PCI] = {"device-info-not-pci",
                                 "DEVICE_GET_INFO leaves out the PCI flag"},
    [VUC_SRV_BUG_BIT_PROBE_ANY_METHOD] =
        {"probe-ignores-methods",
         "a PROBE succeeds even for methods the feature does not have"},
    [VUC_SRV_BUG_BIT_SET_REPLY_DIFFERS] =
        {"set-reply-differs",
         "a MIG_DEVICE_STATE SET reply carries data_fd 0, not the request's"},
    [VUC_SRV_BUG_BIT_START_REPLY_SHORT] =
        {"start-reply-drops-ranges",
         "the LOGGING_START reply leaves out the ranges of the request"},
    [VUC_SRV_BUG_BIT_ERRNO_INVALID] =
        {"errno-invalid",
         "error replies carry errno + 0x10000, no errno value at all"},
    [VUC_SRV_BUG_BIT_REUSED_ID_DROPPED] =
        {"reused-id-dropped",
         "a request with the message id of the one before it is dropped"},
    [VUC_SRV_BUG_BIT_DISCONNECT_RESETS] =
        {"disconnect-resets-device",
         "a client's disconnect resets the device (migration state RUNNING)"},
    [VUC_SRV_BUG_BIT_SIGTERM_IGNORED] = {"sigterm-ignored",
                                         "the server ignores SIGTERM"},
    [VUC_SRV_BUG_BIT_RESUME_DISCARDS] =
        {"resume-discards-data",
         "RESUMING -> STOP checks the stream and succeeds, but loads nothing"},
    [VUC_SRV_BUG_BIT_REPLAY_FIRST_REGS] =
        {"save-replays-first-registers",
         "every stream carries the registers of the first save since start"},
    [VUC_SRV_BUG_BIT_CONFIG_READ_REFUSED] =
        {"config-read-refused",
         "REGION_READ of the config space (region 7) fails with EINVAL"},
    [VUC_SRV_BUG_BIT_WRITE_REPLY_ECHOES] =
        {"write-reply-echoes",
         "a MIG_DATA_WRITE reply echoes the request's argsz and size"},
    [VUC_SRV_BUG_BIT_WRITE_ZERO_ENDS] =
        {"write-zero-ends-stream",
         "a MIG_DATA_WRITE of 0 bytes ends the stream: the resume then fails"},
    [VUC_SRV_BUG_BIT_LIMIT_OWN] =
        {"limit-ignores-proposal",
         "transfers are bounded by the server's own limit, not the agreed one"},
    [VUC_SRV_BUG_BIT_START_ALL_DIRTY] =
        {"start-marks-all-dirty",
         "LOGGING_START of ranges marks every page of them dirty"},
    [VUC_SRV_BUG_BIT_START_NUM_RANGES] =
        {"start-num-ranges-trusted",
         "LOGGING_START takes the ranges sent, whatever num_ranges says"},
    [VUC_SRV_BUG_BIT_DAEMONIZE] =
        {"daemonize",
         "the server forks once it listens; the process started exits 0"},
    [VUC_SRV_BUG_BIT_SOCKET_PATH_REFUSED] =
        {"socket-path-refused",
         "--socket-path=PATH is a usage error (only --socket PATH works)"},
    [VUC_SRV_BUG_BIT_FD_REFUSED] = {"fd-refused",
                                    "--fd=FDNUM is a usage error"},
    [VUC_SRV_BUG_BIT_INFO_NONZERO_DROPPED] =
        {"info-nonzero-dropped",
         "DEVICE_GET_INFO with flags, num_regions or num_irqs set is dropped "
         "unanswered"},
    [VUC_SRV_BUG_BIT_UNMAP_KEEPS_MAPPING] =
        {"unmap-keeps-mapping",
         "DMA_UNMAP forgets the range but leaves the memory mapped"},
    [VUC_SRV_BUG_BIT_DMA_WRITE_OWN_LIMIT] =
        {"dma-write-ignores-limit",
         "the DMA engine's DMA_WRITE messages are bounded by the server's "
         "own limit, not the client's"},
    [VUC_SRV_BUG_BIT_DMA_UNMAPPED_SENDS] =
        {"dma-unmapped-sends",
         "the DMA engine sends DMA_WRITE for addresses nothing maps"},
    [VUC_SRV_BUG_BIT_IRQ_FDS_KEPT] =
        {"irq-fds-kept", "a client's disconnect leaves its IRQ eventfds open"},
    [VUC_SRV_BUG_BIT_DMA_READ_LOGGED] =
        {"dma-read-logged",
         "the DMA engine's reads mark the pages they read dirty"},
    [VUC_SRV_BUG_BIT_REGION_INFO_EXTRA_FDS] =
        {"region-info-extra-fds",
         "GET_REGION_INFO of BAR2 passes its fd twice, whatever max_msg_fds "
         "the client gave"},
    [VUC_SRV_BUG_BIT_TWIN_UNUSED] =
        {"twin-socket-unused",
         "twin-socket mode is enabled, but DMA_READ/WRITE still go on the "
         "main socket"},
    [VUC_SRV_BUG_BIT_TWIN_DECLINED] =
        {"twin-socket-declined",
         "twin-socket mode is never enabled: DMA_READ/WRITE go on the main "
         "socket"},
    [VUC_SRV_BUG_BIT_CLOSES_STDIO] =
        {"closes-stdio",
         "the server closes fds 0, 1 and 2 at start (its socket lands on 0)"},
    [VUC_SRV_BUG_BIT_UNKNOWN_BODY_UNREAD] =
        {"unknown-command-body-unread",
         "an unknown command is refused from its header; its body is read "
         "as the next message"},
    [VUC_SRV_BUG_BIT_REPORT_PADDED] =
        {"report-bitmap-padded",
         "a REPORT bitmap carries one zero u64 word past the range's last"},
    [VUC_SRV_BUG_BIT_REPORT_ONE_MAPPING] =
        {"report-one-mapping",
         "a REPORT whose range leaves the DMA mapping it starts in fails "
         "with EINVAL"},
    [VUC_SRV_BUG_BIT_REPORT_UNLOGGED] =
        {"report-unlogged-dirty",
         "a REPORT shows every page outside the logged ranges as dirty"},
    [VUC_SRV_BUG_BIT_MAX_MSG_NO_ROOM] =
        {"max-msg-no-room",
         "the largest message taken is --max-data-xfer-size bytes in all, "
         "header and fixed part included"},
    [VUC_SRV_BUG_BIT_LIMIT_ECHOES] =
        {"limit-echoes-proposal",
         "a max_data_xfer_size proposal above the server's own is announced "
         "back, but the server's own limit still applies"},
    [VUC_SRV_BUG_BIT_PRECOPY_RESTARTS] =
        {"precopy-stream-restarts",
         "PRE_COPY -> STOP_COPY starts a new stream instead of going on"},
    [VUC_SRV_BUG_BIT_FEATURE_SHORT_DATA] =
        {"feature-short-data-accepted",
         "DEVICE_FEATURE data shorter than its fixed part gets a success "
         "reply"},
};

const char *vuc_srv_bug_name(unsigned i)
{
    return i < VUC_SRV_BUG_COUNT ? bug_table[i].name : NULL;
}

const char *vuc_srv_bug_desc(unsigned i)
{
    return i < VUC_SRV_BUG_COUNT ? bug_table[i].desc : NULL;
}

/* One side of arc=FROM:TO: a state's bits (all of them for "*"). */
static int arc_side(const char *name, size_t len, uint8_t *bits)
{
    char buf[32];
    uint32_t st;

    if (len == 1 && name[0] == '*') {
        *bits = 0xff;
        return 0;
    }
    if (len == 0 || len >= sizeof(buf))
        return -EINVAL;
    memcpy(buf, name, len);
    buf[len] = '\0';
    if (vuc_state_parse(buf, &st) < 0 || st >= VUC_SRV_ARC_STATES)
        return -EINVAL;
    *bits = (uint8_t)(1u << st);
    return 0;
}

int vuc_srv_bug_parse(const char *text, struct vuc_srv_opts *o)
{
    const char *colon;
    uint8_t from, to;

    if (!text || !o)
        return -EINVAL;
    if (strncmp(text, "arc=", 4) == 0) {
        text += 4;
        colon = strchr(text, ':');
        if (!colon || arc_side(text, (size_t)(colon - text), &from) < 0 ||
            arc_side(colon + 1, strlen(colon + 1), &to) < 0)
            return -EINVAL;
        for (unsigned i = 0; i < VUC_SRV_ARC_STATES; i++)
            if (from & (1u << i))
                o->arcs[i] |= to;
        return 0;
    }
    for (unsigned i = 0; i < VUC_SRV_BUG_COUNT; i++) {
        if (strcmp(text, bug_table[i].name) == 0) {
            o->bugs |= 1ull << i;
            return 0;
        }
    }
    return -EINVAL;
}

int vuc_srv_size_parse(const char *text, uint64_t *out)
{
    unsigned long long v;
    unsigned shift = 0;
    char *end;

    if (!text || !out || !*text || *text == '-' || *text == '+')
        return -EINVAL;
    errno = 0;
    v = strtoull(text, &end, 0);
    if (errno || end == text)
        return -EINVAL;
    if (*end == 'K' || *end == 'k')
        shift = 10;
    else if (*end == 'M' || *end == 'm')
        shift = 20;
    else if (*end == 'G' || *end == 'g')
        shift = 30;
    if (shift)
        end++;
    if (*end || v > (VUC_SRV_STATE_SIZE_MAX >> shift))
        return -EINVAL;
    v <<= shift;
    if (v < VUC_SRV_STATE_SIZE_MIN || v % VUC_SRV_STATE_ALIGN)
        return -EINVAL;
    *out = v;
    return 0;
}

/* ---- context ---- */

void *srv_alloc(struct vuc_srv *s, size_t n)
{
    if (s->opts.alloc.alloc)
        return s->opts.alloc.alloc(s->opts.alloc.ctx, n);
    return malloc(n);
}

void srv_release(struct vuc_srv *s, void *p)
{
    if (!p)
        return;
    if (s->opts.alloc.release)
        s->opts.alloc.release(s->opts.alloc.ctx, p);
    else
        free(p);
}

/* The trees' node allocator (vuc_srv.tree_mem). */
static void *tree_alloc(void *s, size_t n)
{
    return srv_alloc(s, n);
}

static void tree_release(void *s, void *p)
{
    srv_release(s, p);
}

static uint8_t *zeroed(struct vuc_srv *s, size_t n, bool huge)
{
    uint8_t *p;

    if (s->opts.alloc.alloc) {
        p = s->opts.alloc.alloc(s->opts.alloc.ctx, n);
        if (p)
            memset(p, 0, n);
        return p;
    }
    /* Anonymous memory is zero and takes RSS only once written. */
    p = mmap(NULL, n, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (p == MAP_FAILED)
        return NULL;
    /* Fewer faults and TLB misses when a large state streams. */
    if (huge)
        (void)madvise(p, n, MADV_HUGEPAGE);
    return p;
}

uint8_t *srv_big_alloc(struct vuc_srv *s, size_t n)
{
    return zeroed(s, n, true);
}

uint8_t *srv_lazy_alloc(struct vuc_srv *s, size_t n)
{
    return zeroed(s, n, false);
}

void srv_big_release(struct vuc_srv *s, uint8_t *p, size_t n)
{
    if (!p)
        return;
    if (s->opts.alloc.alloc)
        s->opts.alloc.release(s->opts.alloc.ctx, p);
    else
        munmap(p, n);
}

void vuc_srv_opts_init(struct vuc_srv_opts *o)
{
    memset(o, 0, sizeof(*o));
    o->mig_flags = VUC_MIGRATION_STOP_COPY | VUC_MIGRATION_PRE_COPY;
    o->max_data_xfer_size = VUC_DEFAULT_MAX_DATA_XFER_SIZE;
    o->send_timeout_ms = VUC_SRV_SEND_TIMEOUT_MS;
    o->state_size = VUC_SRV_STATE_SIZE_DEFAULT;
}

int vuc_srv_new(const struct vuc_srv_opts *o, struct vuc_srv **out)
{
    struct vuc_srv_opts def;
    struct vuc_srv *s;
    uint64_t state_size;
    uint8_t *state;

    if (!out)
        return -EINVAL;
    *out = NULL;
    if (!o) {
        vuc_srv_opts_init(&def);
        o = &def;
    }
    if (!vuc_fsm_flags_valid(o->mig_flags))
        return -EINVAL;
    if (o->quirks & ~VUC_SRV_QUIRKS_KNOWN || o->bugs & ~VUC_SRV_BUGS_KNOWN ||
        o->plants & ~VUC_SRV_PLANTS_KNOWN)
        return -EINVAL;
    if (o->max_data_xfer_size > VUC_SRV_MAX_XFER_LIMIT)
        return -EINVAL;
    if (o->chaos >= VUC_SRV_CHAOS_COUNT)
        return -EINVAL;
    if (o->logging_page_size &&
        (o->logging_page_size & (o->logging_page_size - 1) ||
         o->logging_page_size < VUC_SRV_LOG_PAGE_MIN ||
         o->logging_page_size > VUC_SRV_LOG_PAGE_MAX))
        return -EINVAL;
    /* Either both allocator hooks or neither. */
    if (!o->alloc.alloc != !o->alloc.release)
        return -EINVAL;
    state_size = o->state_size ? o->state_size : VUC_SRV_STATE_SIZE_DEFAULT;
    if (state_size < VUC_SRV_STATE_SIZE_MIN ||
        state_size > VUC_SRV_STATE_SIZE_MAX ||
        state_size % VUC_SRV_STATE_ALIGN || state_size > SIZE_MAX / 2)
        return -EINVAL;

    s = o->alloc.alloc ? o->alloc.alloc(o->alloc.ctx, sizeof(*s))
                       : malloc(sizeof(*s));
    if (!s)
        return -ENOMEM;
    memset(s, 0, sizeof(*s));
    s->opts = *o;
    s->xfer_limit = o->max_data_xfer_size ? o->max_data_xfer_size
                                          : VUC_DEFAULT_MAX_DATA_XFER_SIZE;
    s->send_timeout_ms =
        o->send_timeout_ms > 0 ? o->send_timeout_ms : VUC_SRV_SEND_TIMEOUT_MS;
    s->xfer = s->xfer_limit;
    s->state_size = state_size;
    s->log_bitmap_max = o->log_bitmap_max && o->log_bitmap_max < LOG_BITMAP_MAX
                            ? o->log_bitmap_max
                            : LOG_BITMAP_MAX;
    state = srv_big_alloc(s, (size_t)state_size);
    s->req_bufs = srv_alloc(s, SRV_REQ_BUFS * SRV_REQ_SIZE);
    if (!state || !s->req_bufs) {
        srv_big_release(s, state, (size_t)state_size);
        srv_release(s, s->req_bufs);
        srv_release(s, s);
        return -ENOMEM;
    }
    ASAN_POISON_MEMORY_REGION(s->req_bufs, SRV_REQ_BUFS * SRV_REQ_SIZE);
    dev_init(&s->dev, state, state_size);
    s->dev.arm_reg = s->opts.require_arm;
    mig_init(&s->mig);
    s->tree_mem.alloc = tree_alloc;
    s->tree_mem.release = tree_release;
    s->tree_mem.ctx = s;
    dma_init(&s->dma, &s->tree_mem);
    itree_init(&s->log.r, &s->tree_mem);
    chaos_reset(s);
    *out = s;
    return 0;
}

/* Drop the commands deferred while waiting for a DMA reply. */
static void drop_deferred(struct vuc_srv *s)
{
    for (size_t i = 0; i < s->ndefer; i++)
        vuc_msg_release(&s->defer[i].m);
    s->ndefer = 0;
}

void vuc_srv_free(struct vuc_srv *s)
{
    if (!s)
        return;
    drop_deferred(s);
    dirty_release(s);
    dma_release(s);
    dev_irqs_release(&s->dev);
    dev_bar2_release(&s->dev);
    if (s->twin)
        vuc_conn_close(s->twin);
    mig_free(s);
    srv_big_release(s, s->dev.state, (size_t)s->state_size);
    ASAN_UNPOISON_MEMORY_REGION(s->req_bufs, SRV_REQ_BUFS * SRV_REQ_SIZE);
    srv_release(s, s->req_bufs);
    srv_release(s, s);
}

void vuc_srv_disconnect(struct vuc_srv *s)
{
    /*
     * spec: Client Disconnection: forget what belonged to the client (the
     * negotiation, its DMA maps with their mmaps, DMA logging of its
     * memory, commands it sent that were not handled yet) and keep the
     * device state, including the migration state and its data session.
     */
    s->negotiated = false;
    s->xfer = s->xfer_limit;
    if (s->twin) {
        vuc_conn_close(s->twin);
        s->twin = NULL;
    }
    drop_deferred(s);
    if (srv_quirk(s, VUC_SRV_QUIRK_LOGGING_KEPT)) {
        /* quirk: a server that ties mappings and logging to the device,
         * not to the client: they outlive it (and the memory it shared
         * stays mapped) until unmapped or stopped. Only the ids of the
         * server's own requests start again, as on a new connection. */
        s->dma.next_id = 0;
    } else {
        dirty_release(s);
        s->log.started = false;
        dma_release(s);
    }
    /* bug irq-fds-kept: the old client's eventfds stay open */
    if (!srv_bug(s, VUC_SRV_BUG(IRQ_FDS_KEPT)))
        dev_irqs_release(&s->dev);
    s->conn_err = 0;
    s->deaf = false;
    s->have_last_id = false;
    s->plant_seq = 0;
    chaos_reset(s);
    /* bug disconnect-resets-device: the device does not outlive its
     * client's connection */
    if (srv_bug(s, VUC_SRV_BUG(DISCONNECT_RESETS)))
        mig_reset(s);
}

uint32_t vuc_srv_mig_state(const struct vuc_srv *s)
{
    return s->mig.state;
}

bool vuc_srv_negotiated(const struct vuc_srv *s)
{
    return s->negotiated;
}

/* ---- replies ---- */

uint8_t *reply_fixed(struct srv_reply *r, size_t n)
{
    uint8_t *p;

    /* Programmer error only: handlers ask for small constant sizes. */
    if (n > sizeof(r->fixed) - r->fixed_used || r->iovcnt >= REPLY_MAX_IOV)
        return NULL;
    p = r->fixed + r->fixed_used;
    memset(p, 0, n);
    r->fixed_used += n;
    r->iov[r->iovcnt].iov_base = p;
    r->iov[r->iovcnt].iov_len = n;
    r->iovcnt++;
    return p;
}

void reply_add(struct srv_reply *r, const void *p, size_t n)
{
    if (n == 0 || r->iovcnt >= REPLY_MAX_IOV)
        return;
    r->iov[r->iovcnt].iov_base = (void *)(uintptr_t)p;
    r->iov[r->iovcnt].iov_len = n;
    r->iovcnt++;
}

static void log_msg(const struct vuc_srv *s, const struct vuc_hdr *h,
                    const char *what, uint32_t err)
{
    char buf[32];

    if (!s->opts.verbose)
        return;
    fprintf(stderr,
            "vucert-server: #%u %s size=%u flags=0x%x state=%s -> %s%s\n",
            h->id, vuc_cmd_name(h->cmd), h->size, h->flags,
            vuc_state_name(s->mig.state), what,
            err ? vuc_errno_name(err, buf, sizeof(buf)) : "");
}

/*
 * Send the reply for request h: err == 0 sends r's payload, otherwise an
 * error reply, header only (spec: Header: "If an error occurs, the reply
 * message must only include the reply header"), unless a quirk says
 * otherwise. No_reply suppresses every reply, errors included.
 */
static int finish(struct vuc_srv *s, struct vuc_conn *c,
                  const struct vuc_hdr *h, int err, struct srv_reply *r)
{
    static const uint8_t junk[8] = {0xde, 0xad, 0xbe, 0xef,
                                    0xde, 0xad, 0xbe, 0xef};
    struct vuc_hdr rh = {
        .id = h->id,
        .cmd = h->cmd,
        .flags = VUC_TYPE_REPLY,
    };
    struct iovec jiov = {.iov_base = (void *)(uintptr_t)junk,
                         .iov_len = sizeof(junk)};
    const struct iovec *iov = r->iov;
    int iovcnt = r->iovcnt;
    int rc, xfd = -1, fds[4];
    size_t nf = 0;

    if (err) {
        rh.flags |= VUC_FLAG_ERROR;
        rh.error = srv_quirk(s, VUC_SRV_QUIRK_ERRNO_ZERO) ? 0 : (uint32_t)err;
        /* bug errno-invalid: no errno value at all */
        if (srv_bug(s, VUC_SRV_BUG(ERRNO_INVALID)))
            rh.error = (uint32_t)err + 0x10000u;
        iov = NULL;
        iovcnt = 0;
        if (srv_quirk(s, VUC_SRV_QUIRK_ERROR_WITH_PAYLOAD)) {
            iov = &jiov;
            iovcnt = 1;
        }
    }
    if (h->flags & VUC_FLAG_NO_REPLY) {
        log_msg(s, h, err ? "(no reply) " : "ok (no reply)", (uint32_t)err);
        return r->close ? -ECONNABORTED : 0;
    }
    log_msg(s, h, err ? "" : "ok", (uint32_t)err);
    /* quirk reply-fd-attached: an fd the spec gives no meaning, as a
     * server that passes one along with a reply by mistake; the client
     * must close it. Without one to spare the reply goes as usual. */
    if (!err && h->cmd == VUC_CMD_DEVICE_FEATURE &&
        srv_quirk(s, VUC_SRV_QUIRK_REPLY_FD_ATTACHED))
        xfd = eventfd(0, EFD_CLOEXEC);
    /* the reply's own fds (the server keeps them), the one it gives
     * away, then the quirk's */
    if (!err) {
        for (size_t i = 0; i < r->nfds && nf < 2; i++)
            fds[nf++] = r->fds[i];
        if (r->give_fd >= 0)
            fds[nf++] = r->give_fd;
    }
    if (xfd >= 0 && nf < 4)
        fds[nf++] = xfd;
    if (s->opts.chaos)
        rc = chaos_sendv(s, c, h, &rh, iov, iovcnt, fds, nf);
    else
        rc = vuc_conn_sendv(c, &rh, iov, iovcnt, fds, nf, s->send_timeout_ms);
    if (xfd >= 0)
        close(xfd); /* the client has its own copy now, or none */
    if (r->give_fd >= 0) {
        close(r->give_fd);
        r->give_fd = -1;
    }
    if (rc < 0)
        return rc;
    return r->close ? -ECONNABORTED : 0;
}

/* ---- dispatch ---- */

static const srv_handler handlers[VUC_CMD_MAX] = {
#define VUC_MSG(name, num, dir, req, rep) [num] = srv_h_##name,
#include "vucert/msgs.def"
#undef VUC_MSG
};

/* Returns 0 (r filled) or a positive errno. */
static int dispatch(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                    struct srv_reply *r)
{
    const struct vuc_hdr *h = &m->hdr;
    const struct vuc_msg_desc *d;
    int rc;

    if (vuc_hdr_type(h) != VUC_TYPE_COMMAND)
        return EINVAL;
    /* spec: VFIO_USER_VERSION: "the initial message sent by the client" */
    if (!s->negotiated && h->cmd != VUC_CMD_VERSION &&
        !srv_bug(s, VUC_SRV_BUG(BEFORE_VERSION)))
        return EINVAL;
    d = vuc_msg_desc(h->cmd);
    /* bug unknown-command-accepted: an undefined number is "done" */
    if (!d && srv_bug(s, VUC_SRV_BUG(UNKNOWN_COMMAND)))
        return 0;
    /* bug unknown-command-body-unread: the header alone is taken; the
     * body is left in the stream, to be read as the next message */
    if (!d && m->payload_len > 0 &&
        srv_bug(s, VUC_SRV_BUG(UNKNOWN_BODY_UNREAD)))
        (void)vuc_conn_unread(c, m->payload, m->payload_len);
    if (!d)
        return ENOSYS;
    if (h->cmd >= VUC_CMD_MAX || !handlers[h->cmd])
        return ENOSYS;
    if (d->dir != VUC_DIR_C2S)
        return EINVAL; /* DMA_READ/WRITE go server -> client */
    /* The payload must be what the header says it is. */
    if (m->len != h->size || m->len < VUC_HDR_SIZE ||
        m->payload_len != m->len - VUC_HDR_SIZE ||
        (m->payload_len && !m->payload))
        return EINVAL;
    rc = vuc_msg_check(h, m->payload_len, false);
    if (rc == -ENOSYS)
        return ENOSYS;
    /* bug short-payload-accepted: "done", with nothing read or done */
    if (rc < 0)
        return srv_bug(s, VUC_SRV_BUG(SHORT_PAYLOAD)) ? 0 : EINVAL;
    return handlers[h->cmd](s, c, m, r);
}

/*
 * Bugs argsz-below-min-dropped / argsz-huge-dropped: a request of the
 * commands whose payload starts with argsz, dropped unanswered when that
 * argsz is below the fixed part or 0xffffffff.
 */
static bool bug_drops(const struct vuc_srv *s, const struct vuc_msg *m)
{
    const struct vuc_msg_desc *d = vuc_msg_desc(m->hdr.cmd);
    uint32_t argsz;

    switch (m->hdr.cmd) {
    case VUC_CMD_DEVICE_GET_INFO:
    case VUC_CMD_DEVICE_GET_REGION_INFO:
    case VUC_CMD_DEVICE_GET_IRQ_INFO:
    case VUC_CMD_DEVICE_FEATURE:
    case VUC_CMD_MIG_DATA_READ:
        break;
    default:
        return false;
    }
    if (!d || m->payload_len < 4 || !m->payload)
        return false;
    /* bug info-nonzero-dropped: "all other fields must be zero" taken
     * as leave to ignore the request */
    if (m->hdr.cmd == VUC_CMD_DEVICE_GET_INFO && m->payload_len >= 16 &&
        srv_bug(s, VUC_SRV_BUG(INFO_NONZERO_DROPPED)) &&
        (vuc_get_u32(m->payload + 4) | vuc_get_u32(m->payload + 8) |
         vuc_get_u32(m->payload + 12)) != 0)
        return true;
    argsz = vuc_get_u32(m->payload);
    return (argsz < d->req_min && srv_bug(s, VUC_SRV_BUG(ARGSZ_BELOW_MIN))) ||
           (argsz == 0xffffffffu && srv_bug(s, VUC_SRV_BUG(ARGSZ_HUGE)));
}

static void msg_begin(struct vuc_srv *s)
{
    /* BAR0 COUNTER: "the device keeps running" signal. */
    if (mig_running(s->mig.state))
        dev_tick(&s->dev);
}

int vuc_srv_handle(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m)
{
    struct srv_reply r;
    int err;

    if (!s || !c || !m)
        return -EINVAL;
    msg_begin(s);
    plant_msg(s, &m->hdr, m->payload, m->payload_len);
    if (vuc_hdr_type(&m->hdr) == VUC_TYPE_REPLY) {
        /*
         * The replies the server waits for (to its DMA_WRITE) are taken
         * while it waits (dma.c). Another reply to a DMA request (late,
         * or extra) is dropped. A reply to any other command answers
         * nothing the server can ever send: a protocol error. Answering
         * it could make two peers loop, and ignoring it leaves the client
         * waiting for nothing: close the connection.
         */
        bool dma =
            m->hdr.cmd == VUC_CMD_DMA_WRITE || m->hdr.cmd == VUC_CMD_DMA_READ;
        bool drop = dma || srv_quirk(s, VUC_SRV_QUIRK_REPLY_TYPE_IGNORED);

        log_msg(s, &m->hdr,
                dma    ? "stray DMA reply dropped"
                : drop ? "unsolicited reply dropped (quirk)"
                       : "unsolicited reply: closing",
                0);
        return drop ? 0 : -EPROTO;
    }
    /* The Error flag of a command is reserved and ignored (README.md);
     * the quirk drops the request instead, so the client hears nothing. */
    if ((m->hdr.flags & VUC_FLAG_ERROR) &&
        srv_quirk(s, VUC_SRV_QUIRK_ERROR_FLAG_IGNORED)) {
        log_msg(s, &m->hdr, "request with the Error flag dropped (quirk)", 0);
        return 0;
    }
    /* bug reused-id-dropped: taken for a resend of the one before */
    if (s->have_last_id && m->hdr.id == s->last_id &&
        srv_bug(s, VUC_SRV_BUG(REUSED_ID_DROPPED))) {
        log_msg(s, &m->hdr, "dropped for its reused id (bug)", 0);
        return 0;
    }
    s->last_id = m->hdr.id;
    s->have_last_id = true;
    if (s->negotiated && bug_drops(s, m)) {
        log_msg(s, &m->hdr, "dropped for its argsz (bug)", 0);
        return 0;
    }
    r.iovcnt = 0;
    r.fixed_used = 0;
    r.close = false;
    r.nfds = 0;
    r.give_fd = -1;
    err = dispatch(s, c, m, &r);
    err = finish(s, c, &m->hdr, err, &r);
    mig_after_reply(s);
    return err;
}

/* A message too large to receive: answer it from its header alone. */
static int handle_oversize(struct vuc_srv *s, struct vuc_conn *c,
                           const struct vuc_hdr *h)
{
    struct srv_reply r = {.iovcnt = 0, .give_fd = -1};

    msg_begin(s);
    plant_msg(s, h, NULL, 0);
    if (vuc_hdr_type(h) != VUC_TYPE_COMMAND)
        return 0;
    /* bug oversized-accepted: "done", though nothing of it was kept */
    return finish(s, c, h, srv_bug(s, VUC_SRV_BUG(OVERSIZED)) ? 0 : EINVAL, &r);
}

/*
 * Quirk short-size-ignored: after a header with a size below 16 the
 * server reads nothing more from the connection and answers nothing; it
 * only waits for the client to close (a socket's end of stream; the
 * in-memory transport never shows one). Returns -ECONNRESET once it has,
 * else -ETIMEDOUT (-EAGAIN for timeout 0).
 */
static int deaf_wait(struct vuc_conn *c, int timeout_ms)
{
    struct pollfd p = {.fd = vuc_conn_fd(c), .events = POLLRDHUP};

    if (p.fd >= 0 && poll(&p, 1, timeout_ms) > 0 &&
        (p.revents & (POLLRDHUP | POLLHUP | POLLERR)))
        return -ECONNRESET;
    return timeout_ms == 0 ? -EAGAIN : -ETIMEDOUT;
}

/* Quirk pipeline-drops: the whole messages read together with the one
 * just handled are received and thrown away, unanswered. */
static void drop_pipelined(struct vuc_srv *s, struct vuc_conn *c)
{
    struct vuc_msg x;

    while (vuc_conn_pending(c)) {
        int rc = vuc_conn_recv(c, &x, 0);

        if (rc == 0)
            log_msg(s, &x.hdr, "pipelined request dropped (quirk)", 0);
        vuc_msg_release(&x);
        if (rc != 0)
            break; /* a header recv rejects: its turn comes as usual */
    }
}

/* The next request buffer (SRV_REQ_SIZE), writable for the transport. */
static uint8_t *req_buf_next(struct vuc_srv *s)
{
    uint8_t *b = s->req_bufs + (size_t)s->req_next * SRV_REQ_SIZE;

    ASAN_UNPOISON_MEMORY_REGION(b, SRV_REQ_SIZE);
    return b;
}

/* Poison b but for the n bytes of the request it holds (0: none). */
static void req_buf_hold(uint8_t *b, size_t n)
{
    if (b)
        ASAN_POISON_MEMORY_REGION(b + n, SRV_REQ_SIZE - n);
}

int srv_pump(struct vuc_srv *s, struct vuc_conn *c, int timeout_ms)
{
    struct vuc_msg m;
    bool oversize = false, pipelined = false;
    uint8_t *rb = NULL;
    int rc;

    memset(&m, 0, sizeof(m));
    if (s->deaf)
        return deaf_wait(c, timeout_ms);
    if (s->ndefer) {
        /* Commands that came while a DMA reply was awaited, in order. */
        m = s->defer[0].m;
        oversize = s->defer[0].oversize;
        memmove(&s->defer[0], &s->defer[1],
                (s->ndefer - 1) * sizeof(s->defer[0]));
        s->ndefer--;
        rc = oversize ? -EMSGSIZE : 0;
    } else {
        rb = req_buf_next(s);
        rc = vuc_conn_recv_buf(c, &m, rb, SRV_REQ_SIZE, timeout_ms);
        if (m.borrowed)
            s->req_next = (s->req_next + 1) % SRV_REQ_BUFS;
        req_buf_hold(rb, m.borrowed ? m.len : 0);
        pipelined = rc == 0 && srv_quirk(s, VUC_SRV_QUIRK_PIPELINE_DROPS) &&
                    vuc_conn_pending(c);
    }
    if (rc == -EMSGSIZE) {
        /* The transport discards the rest of it; the stream stays sane. */
        rc = handle_oversize(s, c, &m.hdr);
    } else if (rc == -EBADMSG &&
               srv_quirk(s, VUC_SRV_QUIRK_SHORT_SIZE_IGNORED)) {
        /* quirk: no reply, no close; nothing more is read (deaf_wait) */
        log_msg(s, &m.hdr, "bad message size: going deaf (quirk)", 0);
        s->deaf = true;
        rc = 0;
    } else if (rc == -EBADMSG) {
        /* Size < 16: the stream cannot be resynchronised. */
        if (s->opts.verbose)
            fprintf(stderr,
                    "vucert-server: bad message size %u, "
                    "dropping the connection\n",
                    m.hdr.size);
        rc = -ECONNABORTED;
    } else if (rc == 0) {
        rc = vuc_srv_handle(s, c, &m);
        if (rc == 0 && pipelined)
            drop_pipelined(s, c);
    } else {
        /* quirk refuse-after-partial: the client left in the middle of
         * a message; the loop will close the next connection at once */
        if (rc == -EPIPE && srv_quirk(s, VUC_SRV_QUIRK_REFUSE_AFTER_PARTIAL) &&
            vuc_conn_partial(c))
            s->refuse_next = true;
        vuc_msg_release(&m);
        req_buf_hold(rb, 0);
        return rc;
    }
    vuc_msg_release(&m);
    req_buf_hold(rb, 0);
    if (rc == 0 && s->conn_err)
        rc = s->conn_err; /* it broke while a DMA reply was awaited */
    if (rc == -EPIPE || rc == -ECONNRESET)
        return rc; /* peer went away while we replied */
    if (rc < 0)
        return -ECONNABORTED;
    return 0;
}

int vuc_srv_serve(struct vuc_srv *s, struct vuc_conn *c, int timeout_ms)
{
    int rc;

    if (!s || !c)
        return -EINVAL;
    for (;;) {
        rc = srv_pump(s, c, timeout_ms);
        if (rc == 0)
            continue;
        if (rc == -EAGAIN || rc == -ETIMEDOUT || rc == -ENOMEM)
            return rc;
        vuc_srv_disconnect(s);
        return (rc == -ECONNRESET || rc == -EPIPE) ? 0 : -ECONNABORTED;
    }
}

/* ---- VERSION (spec: VFIO_USER_VERSION) ---- */

/* Quirk max-xfer-above-proposal: what the VERSION reply claims (4 GiB). */
#define MAX_XFER_ABOVE_PROPOSAL (4ull << 30)

static uint64_t min_u64(uint64_t a, uint64_t b)
{
    return a < b ? a : b;
}

int srv_h_VERSION(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                  struct srv_reply *r)
{
    struct vuc_version v;
    struct vuc_caps cc, rep;
    uint64_t xfer;
    uint8_t *p;
    int n;

    if (s->negotiated)
        return EINVAL; /* negotiation happens once per connection */
    if (vuc_version_decode(m->payload, m->payload_len, &v) < 0)
        return EINVAL;
    if (v.major != VUC_VERSION_MAJOR) {
        /* We support no other major; nothing can follow. */
        r->close = true;
        return EINVAL;
    }
    /* bug minor-zero-refused: an older minor than the server's refused */
    if (v.minor == 0 && srv_bug(s, VUC_SRV_BUG(MINOR_ZERO_REFUSED)))
        return EINVAL;

    vuc_caps_defaults(&cc);
    /* spec: version data is optional; the quirk insists on it */
    if (!v.json && srv_quirk(s, VUC_SRV_QUIRK_JSON_REQUIRED))
        return EINVAL;
    if (v.json) {
        /* "version data ... (including terminating NUL)": exactly one
         * NUL-terminated string fills the rest of the payload. */
        if (!v.json_nul)
            return EINVAL;
        /* An embedded NUL makes the JSON malformed (vuc_caps_parse). */
        if (v.json_len > 0) {
            int rc = vuc_caps_parse(v.json, v.json_len, &cc);

            if (rc == -ENOMEM)
                return ENOMEM;
            if (rc < 0 && !srv_quirk(s, VUC_SRV_QUIRK_JSON_MALFORMED_ACCEPTED))
                return EINVAL;
            if (rc < 0)
                vuc_caps_defaults(&cc); /* quirk: as if none were sent */
        }
    }
    if ((cc.present & VUC_CAP_MAX_DATA_XFER_SIZE) && cc.max_data_xfer_size == 0)
        return EINVAL; /* no data transfer would be possible */

    /* Without the key the client's limit is the spec default. */
    xfer = min_u64(cc.max_data_xfer_size, s->xfer_limit);

    /* spec: the reply's capabilities are a subset of those proposed. */
    vuc_caps_defaults(&rep);
    rep.present =
        cc.present & (VUC_CAP_MAX_MSG_FDS | VUC_CAP_MAX_DATA_XFER_SIZE |
                      VUC_CAP_MAX_DMA_MAPS | VUC_CAP_PGSIZES |
                      VUC_CAP_TWIN_SOCKET | VUC_CAP_WRITE_MULTIPLE);
    /* quirk: every capability the server has, proposed or not (the
     * values are those a proposal of the client's defaults would get) */
    if (srv_quirk(s, VUC_SRV_QUIRK_CAPS_SUPERSET))
        rep.present |= VUC_CAP_MAX_MSG_FDS | VUC_CAP_MAX_DATA_XFER_SIZE |
                       VUC_CAP_MAX_DMA_MAPS | VUC_CAP_PGSIZES |
                       VUC_CAP_WRITE_MULTIPLE;
    rep.max_msg_fds = min_u64(cc.max_msg_fds, VUC_DEFAULT_MAX_MSG_FDS);
    /* quirk: a limit above the client's proposal (and the server's own,
     * which still bounds what it accepts: s->xfer below) */
    rep.max_data_xfer_size = srv_quirk(s, VUC_SRV_QUIRK_MAX_XFER_ABOVE)
                                 ? MAX_XFER_ABOVE_PROPOSAL
                                 : xfer;
    /* bug limit-echoes-proposal: a larger proposal "agreed" on, though
     * s->xfer (below) stays the server's own */
    if (srv_bug(s, VUC_SRV_BUG(LIMIT_ECHOES)) &&
        cc.max_data_xfer_size > s->xfer_limit)
        rep.max_data_xfer_size = cc.max_data_xfer_size;
    rep.max_dma_maps = min_u64(cc.max_dma_maps, VUC_DEFAULT_MAX_DMA_MAPS);
    rep.pgsizes = VUC_DEFAULT_PGSIZES;
    /* spec: twin-socket mode, when the client supports it: a fresh
     * socket pair, the client's end passed as fd 0 of the reply (bug
     * twin-socket-declined: never) */
    rep.twin_supported = false;
    rep.twin_has_fd_index = false;
    if (cc.twin_supported && !s->twin &&
        !srv_bug(s, VUC_SRV_BUG(TWIN_DECLINED)) && r->nfds == 0) {
        int sv[2];

        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
            return EIO;
        if (vuc_conn_from_fd(sv[0], &s->twin) < 0) { /* closes sv[0] */
            close(sv[1]);
            return EIO;
        }
        r->give_fd = sv[1];
        rep.twin_supported = true;
        rep.twin_has_fd_index = true;
        rep.twin_fd_index = 0;
    }
    rep.write_multiple = false; /* REGION_WRITE_MULTI not implemented */

    p = reply_fixed(r, 4);
    if (!p)
        return EIO;
    /* spec: the major as proposed, the minor at most the proposed one;
     * the quirks answer one above either */
    vuc_put_u16(p, srv_quirk(s, VUC_SRV_QUIRK_VERSION_MAJOR_MISMATCH)
                       ? (uint16_t)(v.major + 1u)
                       : VUC_VERSION_MAJOR);
    if (srv_quirk(s, VUC_SRV_QUIRK_VERSION_MINOR_ABOVE))
        vuc_put_u16(p + 2, (uint16_t)(v.minor + 1u));
    else
        vuc_put_u16(p + 2, (uint16_t)(v.minor < VUC_VERSION_MINOR
                                          ? v.minor
                                          : VUC_VERSION_MINOR));
    if (v.json) {
        char json[sizeof(r->fixed) - 8];

        n = vuc_caps_write(&rep, json, sizeof(json));
        if (n < 0 || (size_t)n >= sizeof(json))
            return EIO;
        /* include the NUL: the spec counts it in the version data */
        p = reply_fixed(r, (size_t)n + 1);
        if (!p)
            return EIO;
        memcpy(p, json, (size_t)n + 1);
    }

    s->negotiated = true;
    /* bug limit-ignores-proposal: the client's smaller limit forgotten */
    s->xfer = srv_bug(s, VUC_SRV_BUG(LIMIT_OWN)) ? s->xfer_limit : (size_t)xfer;
    s->dma.max_maps = rep.max_dma_maps;
    /* A data message at exactly max_data_xfer_size must fit, with room
     * for any command's fixed part. */
    vuc_conn_set_max_msg(c, VUC_HDR_SIZE + s->xfer + 65536u);
    /* bug max-msg-no-room: the receive limit is the server's own data
     * limit, with no room for the header and the command's fixed part */
    if (srv_bug(s, VUC_SRV_BUG(MAX_MSG_NO_ROOM)))
        vuc_conn_set_max_msg(c, s->xfer_limit);
    return 0;
}

/* ---- commands not implemented ---- */

static int not_supported(struct vuc_msg *m)
{
    (void)m; /* passed fds are closed when the caller releases m */
    return ENOTSUP;
}

int srv_h_DEVICE_GET_REGION_IO_FDS(struct vuc_srv *s, struct vuc_conn *c,
                                   struct vuc_msg *m, struct srv_reply *r)
{
    (void)s, (void)c, (void)r;
    return not_supported(m);
}

int srv_h_REGION_WRITE_MULTI(struct vuc_srv *s, struct vuc_conn *c,
                             struct vuc_msg *m, struct srv_reply *r)
{
    /* write_multiple is never negotiated */
    (void)s, (void)c, (void)r;
    return not_supported(m);
}

/* Server -> client commands; dispatch() rejects them before this. */
int srv_h_DMA_READ(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                   struct srv_reply *r)
{
    (void)s, (void)c, (void)m, (void)r;
    return EINVAL;
}

int srv_h_DMA_WRITE(struct vuc_srv *s, struct vuc_conn *c, struct vuc_msg *m,
                    struct srv_reply *r)
{
    (void)s, (void)c, (void)m, (void)r;
    return EINVAL;
}
