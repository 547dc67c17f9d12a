/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * What the fuzz targets share with each other and with the seed
 * generator (gen_seeds.c): how a violated property is reported, a byte
 * reader over the input, an fd-leak check, and the input formats of the
 * targets that give their input a structure (fuzz_server, fuzz_client,
 * fuzz_resume, fuzz_bitmap). A format change here changes what every
 * seed in corpus/ means: regenerate them with fuzz/gen_seeds.py.
 *
 * Fuzz targets are the one place in vucert that aborts on purpose: a
 * violated property must stop the engine and leave a reproducer.
 */
#ifndef VUCERT_FUZZ_PRIV_H
#define VUCERT_FUZZ_PRIV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

/* The entry point every target defines (libFuzzer's signature). */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- properties ---- */

#define FZ_FAIL(...)                                                           \
    do {                                                                       \
        fprintf(stderr, "%s:%d: property violated: ", __FILE__, __LINE__);     \
        fprintf(stderr, __VA_ARGS__);                                          \
        fputc('\n', stderr);                                                   \
        abort();                                                               \
    } while (0)

/* The message (a printf format and its arguments) must not be empty. */
#define FZ_CHECK(cond, ...)                                                    \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "%s:%d: property violated (%s): ", __FILE__,       \
                    __LINE__, #cond);                                          \
            fprintf(stderr, __VA_ARGS__);                                      \
            fputc('\n', stderr);                                               \
            abort();                                                           \
        }                                                                      \
    } while (0)

/* ---- input reader ---- */

struct fz_in {
    const uint8_t *p;
    size_t n;
};

static inline bool fz_empty(const struct fz_in *in)
{
    return in->n == 0;
}

/* Next byte, 0 once the input is used up. */
static inline uint8_t fz_u8(struct fz_in *in)
{
    uint8_t v;

    if (in->n == 0)
        return 0;
    v = in->p[0];
    in->p++;
    in->n--;
    return v;
}

/* Little-endian u16; missing bytes read as 0. */
static inline uint16_t fz_u16(struct fz_in *in)
{
    uint16_t lo = fz_u8(in);

    return (uint16_t)(lo | (uint16_t)(fz_u8(in) << 8));
}

/* Little-endian u64; missing bytes read as 0. */
static inline uint64_t fz_u64(struct fz_in *in)
{
    uint64_t v = 0;

    for (unsigned i = 0; i < 64; i += 8)
        v |= (uint64_t)fz_u8(in) << i;
    return v;
}

/* Up to n bytes (fewer at the end of the input); *got says how many. */
static inline const uint8_t *fz_take(struct fz_in *in, size_t n, size_t *got)
{
    const uint8_t *p = in->p;

    if (n > in->n)
        n = in->n;
    in->p += n;
    in->n -= n;
    *got = n;
    return p;
}

/* ---- fd leaks ---- */

/*
 * Which of the 16 fds from the lowest free one up are open: a leak takes
 * the lowest free number, so it shows among them.
 */
struct fz_fds {
    int low;
    unsigned open; /* bit i: fd low + i is open */
};

static inline struct fz_fds fz_fds_now(int low)
{
    struct fz_fds f = {low, 0};
    struct pollfd p[16];

    if (low < 0)
        return f;
    /* One system call for the 16: poll marks a closed fd POLLNVAL. */
    for (int i = 0; i < 16; i++) {
        p[i].fd = low + i;
        p[i].events = 0;
        p[i].revents = 0;
    }
    FZ_CHECK(poll(p, 16, 0) >= 0, "poll");
    for (int i = 0; i < 16; i++)
        if (!(p[i].revents & POLLNVAL))
            f.open |= 1u << i;
    return f;
}

/* Call before the input runs. */
static inline struct fz_fds fz_fds_begin(void)
{
    int fd = fcntl(0, F_DUPFD_CLOEXEC, 0);

    if (fd < 0)
        fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    if (fd >= 0)
        close(fd);
    return fz_fds_now(fd);
}

/* Call once everything the input opened should be closed again. */
static inline void fz_fds_check(struct fz_fds before)
{
    struct fz_fds after = fz_fds_now(before.low);

    FZ_CHECK(after.open == before.open, "fds from %d open: 0x%x, before 0x%x",
             before.low, after.open, before.open);
}

/* ---- fuzz_codec input ----
 *
 * byte 0: the decoder (FZK_*; any other value: every decoder), then the
 * payload it decodes.
 */
enum fzk_kind {
    FZK_HDR,
    FZK_VERSION,
    FZK_DEVICE_INFO,
    FZK_REGION_INFO,
    FZK_REGION_RW,      /* without data: READ request, WRITE reply */
    FZK_REGION_RW_DATA, /* with data: WRITE request, READ reply */
    FZK_DMA_MAP,
    FZK_DMA_UNMAP,
    FZK_DMA_RW,
    FZK_DMA_RW_DATA,
    FZK_FEATURE,
    FZK_FEAT_MIGRATION,
    FZK_MIG_STATE,
    FZK_LOG_CONTROL,
    FZK_LOG_REPORT,
    FZK_MIG_DATA,
    FZK_MIG_DATA_DATA,
    FZK_NAMES, /* state, errno and command names */
    FZK_COUNT,
    FZK_ALL = 0xff
};

/* ---- fuzz_server input ----
 *
 * byte 0: configuration (FZS_CFG_*), then records until the input ends:
 *   u8 op, u8 ctl, u16 len (LE), len bytes (fewer at the end)
 * op < FZS_OP_MACRO: one message, command number op, payload the bytes;
 * but four zero bytes (op 0, ctl 0, len 0) send nothing: mutation makes
 * runs of zeros, and each would cost a message (command 0 with a ctl or
 * bytes is still sent).
 * op >= FZS_OP_MACRO: a well-formed message (or several) built by the
 * target, so that the fuzzer reaches the deep states quickly; the bytes
 * are its parameters. ctl applies to every message a record sends.
 *
 * A run spends at most FZS_MSG_BUDGET units after the automatic VERSION
 * that starts it; the rest of the input is not run. A message costs one
 * unit, and one more per whole 4 KiB of its payload, whichever side sent
 * it (the server's DMA_WRITEs and the replies included); a DMA run's
 * queued replies and pipelined GET cost one each, and so does a reconnect
 * (asked for, or after a hang-up). Macros multiply: without a bound a
 * 43-byte input sent 200 messages, and a campaign drifted to such inputs
 * until runs took 350 us rather than the 160 of its first minute (3.4k
 * exec/s over ten minutes); a replay whose every piece made the server
 * hang up cost a reconnect and a VERSION per piece; a doorbell could
 * queue 255 replies. What the bound costs: a state that only a longer
 * session reaches is out of reach. With the macros, every migration
 * state, a whole save and resume and a logging round take far fewer (the
 * longest seed sends 44 messages).
 */
#define FZS_MSG_BUDGET 64u

#define FZS_CFG_FLAGSET    0x03u /* index into vuc_fsm_flag_sets */
#define FZS_CFG_FAIL_ERROR 0x04u /* opts.resume_fail_to_error */
#define FZS_CFG_RAW        0x08u /* each record's bytes go out as they are */
#define FZS_CFG_NO_PREFIX  0x10u /* no automatic VERSION first */
#define FZS_CFG_SMALL_XFER 0x20u /* the prefix negotiates 4 KiB transfers */

#define FZS_CTL_NO_REPLY 0x01u /* header flag No_reply */
#define FZS_CTL_REPLY    0x02u /* message type Reply */
#define FZS_CTL_FD       0x04u /* a memfd goes with the message */
#define FZS_CTL_RESERVED 0x08u /* reserved flag bits and error field set */
#define FZS_CTL_ERROR    0x10u /* Error flag on a command */
#define FZS_CTL_TYPE     0xe0u /* non-zero: type 1 + this >> 5 (2..8) */

#define FZS_OP_MACRO 0x80u
#define FZS_OP_SET   0x80u /* u8 state: MIG_DEVICE_STATE SET */
#define FZS_OP_GET   0x81u /* MIG_DEVICE_STATE GET */
#define FZS_OP_READ  0x82u /* u16 size (0: 4096): MIG_DATA_READ */
#define FZS_OP_REPLAY                                                          \
    0x83u                      /* u16 piece (0: 4096), u16 skip: write the     \
                                  data read since the last save session        \
                                  began, from byte skip, in MIG_DATA_WRITEs */
#define FZS_OP_FAULT     0x84u /* u8 v: REGION_WRITE of v to BAR0 FAULT */
#define FZS_OP_RECONNECT 0x85u /* the client goes away; a new one comes */
#define FZS_OP_DRAIN     0x86u /* u16 size (0: 4096): read until short */
#define FZS_OP_POKE      0x87u /* u16 block, 8 bytes: STATE_ADDR, STATE_DATA */
#define FZS_OP_DIRTY     0x88u /* u16 permille: DIRTY_PERMILLE */
#define FZS_OP_RESET     0x89u /* DEVICE_RESET */
/* u8 flags, u8 replies, u16 length: a DMA engine run (fuzz_server.c) */
#define FZS_OP_DMA 0x8au
/* DMA logging (fuzz_server.c), into FZS_OP_DMA's two mappings:
 * LOG_START: u8 ranges (FZS_LOG_*; neither: num_ranges 0, every
 *   mapping), u8 page (hint 1 << (page & 63))
 * LOG_STOP: nothing
 * LOG_REPORT: u8 flags (FZS_LOG_*), u8 page (1 << (page & 63)), u16
 *   offset into the mapping, u16 length (0: the mapping's size) */
#define FZS_OP_LOG_START  0x8bu
#define FZS_OP_LOG_STOP   0x8cu
#define FZS_OP_LOG_REPORT 0x8du

#define FZS_LOG_NOFD  0x01u /* START: log the mapping without an fd */
#define FZS_LOG_FD    0x02u /* START: the one with; REPORT: report it */
#define FZS_LOG_TWICE 0x04u /* REPORT: again at once (it must be empty) */
#define FZS_LOG_SHORT 0x08u /* REPORT: argsz 32, too small for the bitmap */

/* The server fuzz_server runs: small, so an input runs fast. */
#define FZS_STATE_SIZE (16u * 1024u)

/* ---- fuzz_client input ----
 *
 * Records until the input ends: u8 call, u8 ctl, u16 len, len bytes.
 * The bytes are what the "server" end sends before the client makes call
 * (call % FZC_CALL_COUNT, FZC_CALL_*); ctl says how to doctor them.
 */
#define FZC_CTL_PATCH_HDR                                                      \
    0x01u                        /* first header: type Reply, the id and       \
                                    command the client will use */
#define FZC_CTL_PATCH_SIZE 0x02u /* first header: size = len */
#define FZC_CTL_FD         0x04u /* a memfd goes with the bytes */
#define FZC_CTL_HANGUP     0x08u /* then the server end closes */
#define FZC_CTL_ARG        0xf0u /* the call's argument (size, state, ...) */

enum fzc_call {
    FZC_CALL_NEGOTIATE,   /* default proposal */
    FZC_CALL_NEGOTIATE0,  /* no version data */
    FZC_CALL_GET_STATE,   /* MIG_DEVICE_STATE GET */
    FZC_CALL_SET_STATE,   /* SET arg % 9 */
    FZC_CALL_MIG_READ,    /* size arg * 16 */
    FZC_CALL_MIG_WRITE,   /* arg * 16 bytes */
    FZC_CALL_REGION_READ, /* BAR0, arg * 8 bytes */
    FZC_CALL_REGION_WRITE,
    FZC_CALL_REGION_INFO, /* index arg */
    FZC_CALL_FEATURE,     /* feature arg GET, reply payload read whole */
    FZC_CALL_MIG_FLAGS,
    FZC_CALL_RESET,
    FZC_CALL_RECV_ANY,
    FZC_CALL_COUNT
};

/* ---- fuzz_resume input ----
 *
 * byte 0: mode (FZR_MODE_*), byte 1: segmentation seed, then:
 *   RAW:    the stream bytes
 *   FIX:    the stream bytes; the target first rewrites every record's
 *           CRCs (and END's whole-state CRC) to be right, so the fuzzer
 *           explores order and bounds rather than checksums
 *   MUTATE: u8 state seed, then pairs (u16 position, u8 xor) applied to
 *           a valid stream the writer produces for the fixed device
 * Bits FZR_MODE_NO_VERIFY and FZR_MODE_TRUNCATED select parser policy.
 */
#define FZR_MODE_KIND      0x03u
#define FZR_MODE_RAW       0u
#define FZR_MODE_FIX       1u
#define FZR_MODE_MUTATE    2u
#define FZR_MODE_NO_VERIFY 0x04u
#define FZR_MODE_TRUNCATED 0x08u

/* The device fuzz_resume parses for (identity and geometry). */
#define FZR_VENDOR 0x1de5u
#define FZR_DEVICE 0x0001u
#define FZR_STATE  1024u
#define FZR_BLOCK  64u
#define FZR_CHUNK  256u
#define FZR_REGS   40u

/* ---- fuzz_bitmap input ----
 *
 * Two bitmaps, S and D:
 *   u8 S shift, u8 D shift (< FZB_SHIFT_BAD: shift & 63; else 64 +
 *   (shift & 63), which vuc_bitmap_* must refuse), u16 S nbits, u16 D
 *   nbits (each % (FZB_MAX_BITS + 1)), addr S base, addr D base, then
 *   for S and for D a u8 fill (FZB_FILL_*) and what that fill reads;
 * then operations until the input ends (at most FZB_MAX_OPS), each:
 *   u8 op (FZB_OP_*), addr start, addr end, u8 split (clear only: where
 *   the page boundary falls in the read-only copy, fuzz_bitmap.c).
 * addr: u8 sel (FZB_ADDR_*), then u64 if FZB_ADDR_RAW, else u16 n and,
 * with FZB_ADDR_BYTE, one signed byte b: anchor +/- n * unit + b, modulo
 * 2^64. Anchors: 0 the context's (0 for the bases, max(S base, D base)
 * for start, start for end), 1 S base, 2 D base (0 while S base is
 * decoded), 3 zero (minus: the top of the address space). Units: 1 byte,
 * an S page, a D page, 64 S pages (shifts taken & 63).
 * A base, start or end wrapping around is fine: it is an -EINVAL case.
 */
#define FZB_MAX_BITS 4096u /* per bitmap: the model stays cheap */
#define FZB_MAX_OPS  32u

#define FZB_SHIFT_BAD 0xc0u

#define FZB_FILL_KIND    0x03u
#define FZB_FILL_RAW     0u /* ceil(nbits / 64) u64 words follow */
#define FZB_FILL_RANDOM  1u /* u64 seed follows; density FZB_FILL_DENSITY */
#define FZB_FILL_ONES    2u
#define FZB_FILL_ZERO    3u
#define FZB_FILL_DENSITY 0x0cu /* x, x & y, x & y & z, x | y */
#define FZB_FILL_NO_TAIL 0x80u /* bits >= nbits of the last word clear */

#define FZB_ADDR_ANCHOR 0x03u
#define FZB_ADDR_UNIT   0x0cu
#define FZB_ADDR_MINUS  0x10u
#define FZB_ADDR_BYTE   0x20u
#define FZB_ADDR_RAW    0x40u

#define FZB_OP_KIND        0x07u
#define FZB_OP_CONVERT     0u /* S to D */
#define FZB_OP_CONVERT_REV 1u /* D to S */
#define FZB_OP_MARK_S      2u
#define FZB_OP_MARK_D      3u
#define FZB_OP_CLEAR_S     4u
#define FZB_OP_CLEAR_D     5u
/* 6 and 7: CONVERT and CONVERT_REV again (the op with most paths) */
#define FZB_OP_BAD     0x18u /* an invalid argument (FZB_BAD_*) */
#define FZB_OP_BAD_DST 0x20u /* convert: it is the dst, not the src */
#define FZB_BAD_NULL   0x08u /* the bitmap pointer is NULL */
#define FZB_BAD_WORDS  0x10u /* words NULL (-EINVAL if nbits > 0) */
#define FZB_BAD_SHIFT  0x18u /* shift 64 + (op >> 6) */

#endif /* VUCERT_FUZZ_PRIV_H */
