/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * vuc_gen_seeds OUTDIR: writes seed inputs for every fuzz target into
 * OUTDIR/<target>/<name>, from real encodings: messages built with the
 * codec, sessions in fuzz_server's record format that walk what
 * `vucert certify` walks, replies recorded from vucert-server for the
 * client calls fuzz_client makes, VERSION JSON as vucert and the server
 * write it, streams from vuc_save for fuzz_resume, and bitmaps of every
 * page-size ratio for fuzz_bitmap. fuzz/gen_seeds.py runs it and files
 * the seeds under corpus/<target>/ by their sha256.
 *
 * Exit status: 0, or 1 at the first file that cannot be written or
 * recording that fails.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vucert/client.h"
#include "vucert/codec.h"
#include "vucert/fsm.h"
#include "vucert/server.h"
#include "vucert/stream.h"
#include "vucert/transport.h"
#include "vucert/wire.h"
#include "fuzz_priv.h"

/* A growing byte buffer. */
struct buf {
    uint8_t *p;
    size_t n, cap;
};

static void die(const char *what)
{
    fprintf(stderr, "gen_seeds: %s\n", what);
    exit(1);
}

static void put(struct buf *b, const void *p, size_t n)
{
    if (b->n + n > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        uint8_t *np;

        while (cap < b->n + n)
            cap *= 2;
        np = realloc(b->p, cap);
        if (!np)
            die("out of memory");
        b->p = np;
        b->cap = cap;
    }
    if (n)
        memcpy(b->p + b->n, p, n);
    b->n += n;
}

static void put8(struct buf *b, uint8_t v)
{
    put(b, &v, 1);
}

static void put16(struct buf *b, uint16_t v)
{
    uint8_t x[2];

    vuc_put_u16(x, v);
    put(b, x, 2);
}

static void put32(struct buf *b, uint32_t v)
{
    uint8_t x[4];

    vuc_put_u32(x, v);
    put(b, x, 4);
}

static void put64(struct buf *b, uint64_t v)
{
    uint8_t x[8];

    vuc_put_u64(x, v);
    put(b, x, 8);
}

static void reset(struct buf *b)
{
    b->n = 0;
}

/* OUTDIR is the working directory (main). */
static void save_file(const char *target, const char *name, const void *p,
                      size_t n)
{
    char path[512];
    FILE *f;

    if (mkdir(target, 0755) < 0 && errno != EEXIST)
        die(strerror(errno));
    snprintf(path, sizeof(path), "%s/%s", target, name);
    f = fopen(path, "wb");
    if (!f || fwrite(p, 1, n, f) != n || fclose(f) != 0)
        die(path);
}

static void save_buf(const char *target, const char *name, const struct buf *b)
{
    save_file(target, name, b->p, b->n);
}

/* ---- fuzz_codec: a selector byte and a message body ---- */

static void codec_seed(const char *name, uint8_t kind, const uint8_t *p, int n)
{
    struct buf b = {0};

    if (n < 0)
        die(name);
    put8(&b, kind);
    put(&b, p, (size_t)n);
    save_buf("fuzz_codec", name, &b);
    free(b.p);
}

static void gen_codec(void)
{
    const char *json = vuc_client_default_caps_json();
    uint8_t m[512], d[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    struct vuc_hdr h = {.id = 1, .cmd = VUC_CMD_VERSION, .flags = 0};
    struct vuc_version v = {
        .major = 0, .minor = 1, .json = json, .json_len = strlen(json)};
    struct vuc_device_info di = {
        .argsz = 16, .flags = 3, .num_regions = 9, .num_irqs = 5};
    struct vuc_region_info ri = {
        .argsz = 32, .flags = 3, .index = 7, .size = 256};
    struct vuc_region_rw rw = {.offset = 0x18, .region = 0, .count = 4};
    struct vuc_dma_map dm = {.argsz = 32,
                             .flags = 3,
                             .offset = 0,
                             .addr = 0x100000,
                             .size = 0x10000};
    struct vuc_dma_unmap du = {.argsz = 24, .addr = 0x100000, .size = 0x10000};
    struct vuc_dma_rw dr = {.addr = 0x100000, .count = 8};
    struct vuc_feature f = {.argsz = 16,
                            .flags =
                                VUC_FEATURE_SET | VUC_FEATURE_MIG_DEVICE_STATE,
                            .data = d,
                            .data_len = 8};
    struct vuc_mig_state ms = {.device_state = VUC_STATE_STOP_COPY,
                               .data_fd = UINT32_MAX};
    struct vuc_log_range rg[2] = {{0x100000, 0x10000}, {0x200000, 0x2000}};
    struct vuc_log_control lc = {.page_size = 4096, .num_ranges = 2};
    uint8_t bitmap[8] = {0x81};
    struct vuc_log_report lr = {.iova = 0x100000,
                                .length = 0x10000,
                                .page_size = 4096,
                                .bitmap = bitmap,
                                .bitmap_len = 8};
    struct vuc_mig_data md = {.argsz = 8 + 8, .size = 8};
    int n, hn;

    n = vuc_version_encode(&v, m + 16, sizeof(m) - 16);
    h.size = (uint32_t)(16 + n);
    hn = vuc_hdr_encode(&h, m, 16);
    codec_seed("hdr-version", FZK_HDR, m, hn < 0 ? hn : 16 + n);
    codec_seed("version", FZK_VERSION, m + 16, n);
    codec_seed("all-version", FZK_ALL, m + 16, n);
    v.json = NULL;
    v.json_len = 0;
    codec_seed("version-nodata", FZK_VERSION, m,
               vuc_version_encode(&v, m, sizeof(m)));
    codec_seed("device-info", FZK_DEVICE_INFO, m,
               vuc_device_info_encode(&di, m, sizeof(m)));
    codec_seed("region-info", FZK_REGION_INFO, m,
               vuc_region_info_encode(&ri, m, sizeof(m)));
    codec_seed("region-read", FZK_REGION_RW, m,
               vuc_region_rw_encode(&rw, m, sizeof(m)));
    rw.data = d;
    rw.data_len = 4;
    codec_seed("region-write", FZK_REGION_RW_DATA, m,
               vuc_region_rw_encode(&rw, m, sizeof(m)));
    codec_seed("dma-map", FZK_DMA_MAP, m,
               vuc_dma_map_encode(&dm, m, sizeof(m)));
    codec_seed("dma-unmap", FZK_DMA_UNMAP, m,
               vuc_dma_unmap_encode(&du, m, sizeof(m)));
    codec_seed("dma-read", FZK_DMA_RW, m, vuc_dma_rw_encode(&dr, m, sizeof(m)));
    dr.data = d;
    dr.data_len = 8;
    codec_seed("dma-write", FZK_DMA_RW_DATA, m,
               vuc_dma_rw_encode(&dr, m, sizeof(m)));
    codec_seed("feature-set-state", FZK_FEATURE, m,
               vuc_feature_encode(&f, m, sizeof(m)));
    codec_seed("feature-migration", FZK_FEAT_MIGRATION, m,
               vuc_feat_migration_encode(VUC_MIGRATION_STOP_COPY |
                                             VUC_MIGRATION_PRE_COPY,
                                         m, sizeof(m)));
    codec_seed("mig-state", FZK_MIG_STATE, m,
               vuc_mig_state_encode(&ms, m, sizeof(m)));
    codec_seed("log-start", FZK_LOG_CONTROL, m,
               vuc_log_control_encode(&lc, rg, m, sizeof(m)));
    codec_seed("log-report", FZK_LOG_REPORT, m,
               vuc_log_report_encode(&lr, m, sizeof(m)));
    codec_seed("mig-read", FZK_MIG_DATA, m,
               vuc_mig_data_encode(&md, m, sizeof(m)));
    md.data = d;
    md.data_len = 8;
    codec_seed("mig-write", FZK_MIG_DATA_DATA, m,
               vuc_mig_data_encode(&md, m, sizeof(m)));
    codec_seed("names", FZK_NAMES, (const uint8_t *)"STOP_COPY", 9);
}

/* ---- fuzz_caps: VERSION JSON ---- */

static void caps_seed(const char *name, const char *json)
{
    save_file("fuzz_caps", name, json, strlen(json));
}

/* {"capabilities":{"x":[[...]]}}: the arrays end at nesting depth
 * levels (the top object is 1, "capabilities" 2), inner inside them */
static void deep_seed(const char *name, int levels, const char *inner)
{
    char buf[256];
    int n = snprintf(buf, sizeof(buf), "{\"capabilities\":{\"x\":");

    for (int i = 2; i < levels; i++)
        buf[n++] = '[';
    n += snprintf(buf + n, sizeof(buf) - (size_t)n, "%s", inner);
    for (int i = 2; i < levels; i++)
        buf[n++] = ']';
    snprintf(buf + n, sizeof(buf) - (size_t)n, "}}");
    caps_seed(name, buf);
}

static void gen_caps(void)
{
    struct vuc_caps c;
    char buf[1024];

    caps_seed("vucert-default", vuc_client_default_caps_json());
    caps_seed("empty-object", "{}");
    caps_seed("empty-caps", "{\"capabilities\":{}}");
    caps_seed("twin", "{\"capabilities\":{\"twin_socket\":{\"supported\":true,"
                      "\"fd_index\":0}}}");
    caps_seed("spaces", " { \"capabilities\" : { \"max_msg_fds\" : 1 , "
                        "\"write_multiple\" : true } }\n");
    caps_seed("unknown-keys", "{\"capabilities\":{\"migration\":{\"pgsize\":"
                              "4096},\"x\":[1,2]},\"other\":null}");
    caps_seed("big-numbers",
              "{\"capabilities\":{\"max_data_xfer_size\":18446744073709551615,"
              "\"max_dma_maps\":9223372036854775807,\"pgsizes\":0}}");
    /* where JSON leaves the meaning open (codec/caps.c): the last of a
     * name counts, -0 is 0, nesting stops at 32 */
    caps_seed(
        "duplicates",
        "{\"capabilities\":{\"max_dma_maps\":7,\"y\":1},\"capabilities\":{"
        "\"max_msg_fds\":-1,\"max_msg_fds\":2,\"twin_socket\":{\"x\":1},"
        "\"twin_socket\":{},\"pgsizes\":-0}}");
    deep_seed("depth-32", 32, "");
    deep_seed("depth-33", 32, "1");
    /* escapes and UTF-8: a known name spelt with \u, every escape */
    caps_seed("escapes",
              "{\"capabilities\":{\"max\\u005fmsg_fds\":3,"
              "\"x\":\"\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00"
              "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\"}}");
    /* what json-c accepts and RFC 8259 does not */
    caps_seed("lenient",
              "{'capabilities':{\"x\":[NaN,-Infinity,1.,-01,\"\t\"]}}");
    /* every key, as vuc_caps_write puts them (what servers reply) */
    vuc_caps_defaults(&c);
    c.present = 0x3f;
    c.twin_has_fd_index = true;
    c.twin_fd_index = 1;
    c.write_multiple = true;
    if (vuc_caps_write(&c, buf, sizeof(buf)) > 0)
        caps_seed("all-keys", buf);
}

/* ---- fuzz_server: sessions in the record format ---- */

static void rec(struct buf *b, uint8_t op, uint8_t ctl, const void *p, size_t n)
{
    put8(b, op);
    put8(b, ctl);
    put16(b, (uint16_t)n);
    put(b, p, n);
}

static void rec_set(struct buf *b, uint32_t state)
{
    uint8_t s = (uint8_t)state;

    rec(b, FZS_OP_SET, 0, &s, 1);
}

static void rec_u16(struct buf *b, uint8_t op, uint16_t v)
{
    uint8_t x[2];

    vuc_put_u16(x, v);
    rec(b, op, 0, x, 2);
}

static void rec_region(struct buf *b, uint8_t op, uint64_t off, uint32_t region,
                       uint32_t count, const void *data)
{
    struct buf p = {0};

    put64(&p, off);
    put32(&p, region);
    put32(&p, count);
    if (data)
        put(&p, data, count);
    rec(b, op, 0, p.p, p.n);
    free(p.p);
}

static void rec_feature(struct buf *b, uint32_t argsz, uint32_t flags)
{
    struct buf p = {0};

    put32(&p, argsz);
    put32(&p, flags);
    rec(b, VUC_CMD_DEVICE_FEATURE, 0, p.p, p.n);
    free(p.p);
}

/* The discovery vucert certify starts with. */
static void rec_discovery(struct buf *b)
{
    struct buf p = {0};
    uint8_t scratch[8] = {1, 2, 3, 4, 5, 6, 7, 8};

    put32(&p, 16);
    put32(&p, 0);
    put32(&p, 0);
    put32(&p, 0);
    rec(b, VUC_CMD_DEVICE_GET_INFO, 0, p.p, p.n);
    for (uint32_t i = 0; i < VUC_PCI_NUM_REGIONS; i++) {
        reset(&p);
        put32(&p, 32);
        put32(&p, 0);
        put32(&p, i);
        put32(&p, 0);
        put64(&p, 0);
        put64(&p, 0);
        rec(b, VUC_CMD_DEVICE_GET_REGION_INFO, 0, p.p, p.n);
    }
    reset(&p);
    put32(&p, 16);
    put32(&p, 0);
    put32(&p, 0);
    put32(&p, 0);
    rec(b, VUC_CMD_DEVICE_GET_IRQ_INFO, 0, p.p, p.n);
    rec_region(b, VUC_CMD_REGION_READ, 0, 0, 8, NULL);
    rec_region(b, VUC_CMD_REGION_WRITE, 8, 0, 8, scratch);
    rec_region(b, VUC_CMD_REGION_READ, 0, 7, 64, NULL);
    rec_feature(b, 16, VUC_FEATURE_PROBE | VUC_FEATURE_GET | 1);
    rec_feature(b, 16, VUC_FEATURE_GET | 1);
    rec_feature(b, 16, VUC_FEATURE_GET | 2);
    rec_feature(b, 16, VUC_FEATURE_GET | 6);
    free(p.p);
}

static void server_seed(const char *name, const struct buf *b)
{
    save_buf("fuzz_server", name, b);
}

/* ---- fuzz_server: DMA logging ---- */

static void rec_log_start(struct buf *b, uint8_t ranges, uint8_t page)
{
    uint8_t x[2] = {ranges, page};

    rec(b, FZS_OP_LOG_START, 0, x, 2);
}

static void rec_log_report(struct buf *b, uint8_t ctl, uint8_t flags,
                           uint8_t page, uint16_t off, uint16_t len)
{
    uint8_t x[6] = {flags, page};

    vuc_put_u16(x + 2, off);
    vuc_put_u16(x + 4, len);
    rec(b, FZS_OP_LOG_REPORT, ctl, x, sizeof(x));
}

/* u8 flags, u8 replies, u16 length: FZS_OP_DMA */
static void rec_dma(struct buf *b, uint8_t flags, uint8_t replies, uint16_t len)
{
    uint8_t x[4] = {flags, replies};

    vuc_put_u16(x + 2, len);
    rec(b, FZS_OP_DMA, 0, x, sizeof(x));
}

/* DEVICE_FEATURE for a logging method, built by hand */
static void rec_log_raw(struct buf *b, uint8_t ctl, uint32_t argsz,
                        uint32_t flags, const struct buf *data)
{
    struct buf p = {0};

    put32(&p, argsz);
    put32(&p, flags);
    put(&p, data->p, data->n);
    rec(b, VUC_CMD_DEVICE_FEATURE, ctl, p.p, p.n);
    free(p.p);
}

static void gen_server_logging(void)
{
    struct buf b = {0}, d = {0};
    const uint32_t start = VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_START;
    const uint32_t stop = VUC_FEATURE_SET | VUC_FEATURE_DMA_LOGGING_STOP;
    const uint32_t report = VUC_FEATURE_GET | VUC_FEATURE_DMA_LOGGING_REPORT;

    /* the macro mappings logged at 16 KiB pages: DMA into both, reports
     * finer, coarser, unaligned, twice, too short; START twice; reset
     * keeps logging, STOP ends it, a new client finds it off */
    put8(&b, 0);
    rec_log_report(&b, 0, 0, 12, 0, 0); /* not logging: EINVAL */
    rec_log_start(&b, FZS_LOG_NOFD | FZS_LOG_FD, 14);
    rec_log_start(&b, FZS_LOG_NOFD, 12); /* EBUSY */
    rec_dma(&b, 1, 0, 0x2000);           /* fd, 8 KiB */
    rec_dma(&b, 0, 1, 0x1000);           /* DMA_WRITE, 4 KiB */
    rec_log_report(&b, 0, FZS_LOG_FD | FZS_LOG_TWICE, 12, 0, 0);
    rec_log_report(&b, 0, 0, 16, 0x100, 0x3000);
    rec_log_report(&b, 0, FZS_LOG_TWICE, 14, 0, 0);
    rec_dma(&b, 1, 0, 0x5000);
    rec_log_report(&b, 0, FZS_LOG_FD | FZS_LOG_SHORT, 12, 0, 0);
    rec(&b, FZS_OP_RESET, 0, NULL, 0);
    rec_log_report(&b, 0, FZS_LOG_FD | FZS_LOG_TWICE, 13, 0x1000, 0x2000);
    rec_log_report(&b, 0, FZS_LOG_FD, 11, 0, 0); /* page 2 KiB: EINVAL */
    rec(&b, FZS_OP_LOG_STOP, 0, NULL, 0);
    rec_log_report(&b, 0, 0, 12, 0, 0); /* stopped: EINVAL */
    rec(&b, FZS_OP_LOG_STOP, 0, NULL, 0);
    rec_log_start(&b, FZS_LOG_FD, 20); /* 1 MiB: not whole pages */
    rec_log_start(&b, FZS_LOG_FD, 12);
    rec_dma(&b, 1 | 8, 0, 0x3000); /* then unmapped: clear */
    rec_log_report(&b, 0, FZS_LOG_FD, 12, 0, 0);
    rec(&b, FZS_OP_RECONNECT, 0, NULL, 0);
    rec_log_report(&b, 0, 0, 12, 0, 0); /* a new client: EINVAL */
    server_seed("dma-logging", &b);

    /* num_ranges 0 at 1 GiB pages: every mapping, those made later too;
     * 4 KiB transfers, so DMA_WRITEs in pieces; reports at 4 KiB and at
     * 2 MiB; the run in STOP is refused and dirties nothing */
    reset(&b);
    put8(&b, FZS_CFG_SMALL_XFER | 3);
    rec_dma(&b, 1, 0, 0x1000);
    rec_log_start(&b, 0, 30);
    rec_dma(&b, 0, 3, 0x2800);
    rec_dma(&b, 1, 0, 0xffff);
    rec_log_report(&b, 0, 0, 12, 0, 0);
    rec_log_report(&b, 0, FZS_LOG_FD | FZS_LOG_TWICE, 21, 0, 0);
    rec_log_report(&b, 0, FZS_LOG_FD, 12, 0x10, 0x7ff0);
    rec_set(&b, VUC_STATE_STOP);
    rec_dma(&b, 1, 0, 0x1000); /* EBUSY */
    rec_log_report(&b, 0, FZS_LOG_FD, 12, 0, 0);
    rec_set(&b, VUC_STATE_RUNNING);
    rec(&b, FZS_OP_LOG_STOP, 0, NULL, 0);
    server_seed("dma-logging-all", &b);

    /* by hand: PROBEs, bad STARTs, a START of three ranges, bad REPORTs (a page
     * not a power of two, a range that wraps, a bitmap above max_data_xfer, 23
     * bytes), a STOP with data, a START and a REPORT without a reply */
    reset(&b);
    put8(&b, FZS_CFG_SMALL_XFER | 2);
    reset(&d);
    rec_log_raw(&b, 0, 8, VUC_FEATURE_PROBE | start, &d);
    rec_log_raw(&b, 0, 8, VUC_FEATURE_PROBE | stop, &d);
    rec_log_raw(&b, 0, 8, VUC_FEATURE_PROBE | report, &d);
    rec_log_raw(&b, 0, 8, VUC_FEATURE_GET | VUC_FEATURE_DMA_LOGGING_START, &d);
    /* refused: a page size not a power of two, ranges that overlap, one
     * that wraps */
    put64(&d, 0x3000);
    put32(&d, 1);
    put32(&d, 0);
    put64(&d, 0x10000000);
    put64(&d, 0x6000);
    rec_log_raw(&b, 0, 24, start, &d);
    reset(&d);
    put64(&d, 4096);
    put32(&d, 2);
    put32(&d, 0);
    put64(&d, 0x10000000);
    put64(&d, 0x10000);
    put64(&d, 0x1000f000);
    put64(&d, 0x2000);
    rec_log_raw(&b, 0, 24, start, &d);
    reset(&d);
    put64(&d, 4096);
    put32(&d, 1);
    put32(&d, 0);
    put64(&d, 0 - 0x2000ull);
    put64(&d, 0x4000);
    rec_log_raw(&b, 0, 24, start, &d);
    reset(&d);
    put64(&d, 4096);
    put32(&d, 3);
    put32(&d, 0);
    for (uint64_t i = 0; i < 3; i++) {
        put64(&d, 0x10000000 + i * 0x20000);
        put64(&d, 0x10000);
    }
    rec_log_raw(&b, 0, 24, start, &d);
    rec_dma(&b, 0, 1, 0x1000);
    reset(&d);
    put64(&d, 0x10000000);
    put64(&d, 0x10000);
    put64(&d, 0x3000);
    rec_log_raw(&b, 0, 64, report, &d);
    reset(&d);
    put64(&d, UINT64_MAX - 0x1000);
    put64(&d, 0x2000);
    put64(&d, 4096);
    rec_log_raw(&b, 0, 64, report, &d);
    reset(&d);
    put64(&d, 0);
    put64(&d, 1ull << 40);
    put64(&d, 4096);
    rec_log_raw(&b, 0, 64, report, &d);
    reset(&d);
    put64(&d, 0x10000000);
    put64(&d, 0x40000);
    put64(&d, 4096);
    rec_log_raw(&b, 0, 64, report, &d);
    d.n = 23;
    rec_log_raw(&b, 0, 64, report, &d);
    reset(&d);
    put64(&d, 0x1234);
    rec_log_raw(&b, 0, 16, stop, &d);
    reset(&d);
    put64(&d, 65536);
    put32(&d, 0);
    put32(&d, 0);
    rec_log_raw(&b, FZS_CTL_NO_REPLY, 24, start, &d);
    rec_log_report(&b, FZS_CTL_NO_REPLY, 0, 12, 0, 0);
    rec_log_report(&b, 0, 0, 12, 0, 0);
    rec_log_raw(&b, FZS_CTL_NO_REPLY, 8, stop, &d);
    rec_log_report(&b, 0, 0, 12, 0, 0);
    server_seed("dma-logging-by-hand", &b);

    free(b.p);
    free(d.p);
}

static void gen_server(void)
{
    struct buf b = {0}, p = {0};
    uint8_t poke[10] = {3, 0, 0xaa, 0xbb, 0xcc, 0xdd, 1, 2, 3, 4};
    uint8_t junk[64];

    for (size_t i = 0; i < sizeof(junk); i++)
        junk[i] = (uint8_t)(i * 37u);

    /* a certify-like session: discovery, then a migration round trip */
    put8(&b, 3); /* stop-copy,p2p,pre-copy */
    rec_discovery(&b);
    rec_set(&b, VUC_STATE_PRE_COPY);
    rec_u16(&b, FZS_OP_READ, 4096);
    rec(&b, FZS_OP_POKE, 0, poke, sizeof(poke));
    rec_u16(&b, FZS_OP_DIRTY, 100);
    rec_u16(&b, FZS_OP_DRAIN, 4096);
    rec_set(&b, VUC_STATE_PRE_COPY_P2P);
    rec_set(&b, VUC_STATE_STOP_COPY);
    rec_u16(&b, FZS_OP_DRAIN, 4096);
    rec_set(&b, VUC_STATE_STOP);
    rec_set(&b, VUC_STATE_RESUMING);
    rec_u16(&b, FZS_OP_REPLAY, 4096);
    rec_set(&b, VUC_STATE_STOP);
    rec_set(&b, VUC_STATE_RUNNING);
    rec(&b, FZS_OP_GET, 0, NULL, 0);
    server_seed("certify-roundtrip", &b);

    /* every cell of the 8x8 matrix, for each flag set: a row a seed,
     * within FZS_MSG_BUDGET */
    for (uint8_t fs = 0; fs < 4; fs++) {
        for (uint32_t from = 0; from < VUC_STATE_NR; from++) {
            char name[48];

            reset(&b);
            put8(&b, fs);
            for (uint32_t to = 0; to < VUC_STATE_NR; to++) {
                uint8_t one = 1;

                rec(&b, FZS_OP_RESET, 0, NULL, 0);
                if (from == VUC_STATE_ERROR) {
                    rec(&b, FZS_OP_FAULT, 0, &one, 1);
                    rec_set(&b, VUC_STATE_STOP);
                } else {
                    rec_set(&b, from);
                }
                rec_set(&b, to);
                rec(&b, FZS_OP_GET, 0, NULL, 0);
            }
            snprintf(name, sizeof(name), "matrix-flagset%u-%s", fs,
                     vuc_state_name(from));
            server_seed(name, &b);
        }
    }

    /* fault injection, resume failure into ERROR, bad data */
    reset(&b);
    put8(&b, 2 | FZS_CFG_FAIL_ERROR);
    {
        uint8_t one = 1, zero = 0;

        rec(&b, FZS_OP_FAULT, 0, &one, 1);
        rec_set(&b, VUC_STATE_RUNNING);
        rec_set(&b, VUC_STATE_STOP);
        rec_set(&b, VUC_STATE_RUNNING);
        rec(&b, FZS_OP_RESET, 0, NULL, 0);
        rec(&b, FZS_OP_FAULT, 0, &one, 1);
        rec(&b, FZS_OP_FAULT, 0, &zero, 1);
        rec_set(&b, VUC_STATE_STOP);
        rec_set(&b, VUC_STATE_RESUMING);
        reset(&p);
        put32(&p, 8 + sizeof(junk));
        put32(&p, sizeof(junk));
        put(&p, junk, sizeof(junk));
        rec(&b, VUC_CMD_MIG_DATA_WRITE, 0, p.p, p.n);
        rec_set(&b, VUC_STATE_STOP);
        rec(&b, FZS_OP_RESET, 0, NULL, 0);
    }
    server_seed("fault-and-bad-resume", &b);

    /* header oddities: No_reply, replies, other types, fds, reserved */
    reset(&b);
    put8(&b, 2);
    rec(&b, VUC_CMD_DEVICE_RESET, FZS_CTL_NO_REPLY, NULL, 0);
    rec(&b, VUC_CMD_DEVICE_RESET, FZS_CTL_REPLY, NULL, 0);
    rec(&b, VUC_CMD_DEVICE_RESET, 0x40, NULL, 0);
    rec(&b, VUC_CMD_DEVICE_RESET, FZS_CTL_RESERVED | FZS_CTL_ERROR, NULL, 0);
    reset(&p);
    put32(&p, 32);
    put32(&p, VUC_DMA_FLAG_READ | VUC_DMA_FLAG_WRITE);
    put64(&p, 0);
    put64(&p, 0x100000);
    put64(&p, 0x10000);
    rec(&b, VUC_CMD_DMA_MAP, FZS_CTL_FD, p.p, p.n);
    rec(&b, VUC_CMD_DMA_UNMAP, 0, p.p, 24);
    rec(&b, VUC_CMD_DMA_READ, 0, p.p, 16);
    rec(&b, 14, 0, NULL, 0);
    rec(&b, 0, 0, NULL, 0);
    rec(&b, 0x7f, 0, junk, 8);
    rec(&b, VUC_CMD_DEVICE_SET_IRQS, FZS_CTL_FD, junk, 20);
    rec(&b, VUC_CMD_VERSION, 0, junk, 8);
    rec(&b, FZS_OP_RECONNECT, 0, NULL, 0);
    rec_set(&b, VUC_STATE_STOP);
    server_seed("header-oddities", &b);

    /* negotiation by hand: bad JSON, bad major (the server hangs up),
     * no data, a second VERSION */
    reset(&b);
    put8(&b, FZS_CFG_NO_PREFIX | 2);
    rec_set(&b, VUC_STATE_STOP);
    reset(&p);
    put16(&p, 0);
    put16(&p, 1);
    put(&p, "{\"capabilities\":{\"max_data_xfer_size\":0}}", 41);
    put8(&p, 0);
    rec(&b, VUC_CMD_VERSION, 0, p.p, p.n);
    reset(&p);
    put16(&p, 1);
    put16(&p, 0);
    rec(&b, VUC_CMD_VERSION, 0, p.p, p.n);
    reset(&p);
    put16(&p, 0);
    put16(&p, 0xffff);
    rec(&b, VUC_CMD_VERSION, 0, p.p, p.n);
    rec(&b, VUC_CMD_VERSION, 0, p.p, p.n);
    rec_set(&b, VUC_STATE_STOP);
    server_seed("negotiation", &b);

    /* small transfers: limits on reads and region I/O */
    reset(&b);
    put8(&b, FZS_CFG_SMALL_XFER | 2);
    rec_set(&b, VUC_STATE_STOP_COPY);
    rec_u16(&b, FZS_OP_READ, 8192);
    rec_u16(&b, FZS_OP_DRAIN, 4096);
    rec_region(&b, VUC_CMD_REGION_READ, 0, 0, 4096, NULL);
    rec_set(&b, VUC_STATE_STOP);
    rec_set(&b, VUC_STATE_RESUMING);
    rec_u16(&b, FZS_OP_REPLAY, 1000);
    rec_set(&b, VUC_STATE_STOP);
    server_seed("small-xfer", &b);

    /* the DMA engine: into a memfd mapping, and into one reached with
     * DMA_WRITE messages, answered in full, in part, wrongly, with a GET
     * pipelined behind the doorbell; then stopped (EBUSY) */
    reset(&b);
    put8(&b, FZS_CFG_SMALL_XFER | 2);
    {
        static const uint8_t runs[][4] = {
            {1, 0, 0x00, 0x20},    /* fd, 8 KiB */
            {0, 3, 0x00, 0x30},    /* 12 KiB in 3 messages, 3 replies */
            {4, 3, 0x10, 0x20},    /* 8 KiB + 16 in 3, a GET pipelined */
            {2, 2, 0x00, 0x20},    /* the last reply for a wrong address */
            {0, 1, 0x00, 0x20},    /* too few replies */
            {8 | 1, 0, 0x00, 0x01} /* 256 bytes, then unmap */
        };

        for (size_t i = 0; i < sizeof(runs) / sizeof(runs[0]); i++)
            rec(&b, FZS_OP_DMA, 0, runs[i], 4);
        rec_set(&b, VUC_STATE_STOP);
        rec(&b, FZS_OP_DMA, 0, runs[0], 4);
    }
    server_seed("dma-engine", &b);

    /* raw bytes: two messages in one write, then a cut one, then too big
     * and too small declared sizes */
    reset(&b);
    put8(&b, FZS_CFG_RAW | 2);
    reset(&p);
    for (uint16_t id = 1; id <= 2; id++) {
        put16(&p, id);
        put16(&p, VUC_CMD_DEVICE_RESET);
        put32(&p, 16);
        put32(&p, 0);
        put32(&p, 0);
    }
    put16(&p, 3);
    put16(&p, VUC_CMD_REGION_READ);
    put32(&p, 32);
    put32(&p, 0);
    rec(&b, 0, 0, p.p, p.n);
    reset(&p);
    put32(&p, 0);
    put64(&p, 0);
    put32(&p, 0);
    put32(&p, 8);
    rec(&b, 0, 0, p.p, p.n);
    reset(&p);
    put16(&p, 4);
    put16(&p, VUC_CMD_MIG_DATA_WRITE);
    put32(&p, 0x7fffffff);
    put32(&p, 0);
    put32(&p, 0);
    rec(&b, 0, 0, p.p, p.n);
    reset(&p);
    put16(&p, 5);
    put16(&p, VUC_CMD_DEVICE_RESET);
    put32(&p, 8);
    put32(&p, 0);
    put32(&p, 0);
    rec(&b, 0, 0, p.p, p.n);
    server_seed("raw-framing", &b);

    free(b.p);
    free(p.p);
    gen_server_logging();
}

/* ---- fuzz_client: replies vucert-server gives to the client's calls ---- */

struct rig {
    struct vuc_srv *s;
    struct vuc_conn *cli, *srv;
    uint16_t id; /* the client's next message id */
    struct buf out;
};

/* Send what the client would for call, record the server's reply. */
static void rig_call(struct rig *g, unsigned call, unsigned arg, uint16_t cmd,
                     const struct buf *payload)
{
    struct vuc_hdr h = {.id = g->id++, .cmd = cmd, .flags = VUC_TYPE_COMMAND};
    struct vuc_msg m;

    memset(&m, 0, sizeof(m));
    if (vuc_conn_send(g->cli, &h, payload->p, payload->n, NULL, 0, 0) < 0 ||
        vuc_srv_serve(g->s, g->srv, 0) != -EAGAIN ||
        vuc_conn_recv(g->cli, &m, 0) < 0)
        die("recording a reply failed");
    put8(&g->out, (uint8_t)call);
    put8(&g->out, (uint8_t)(arg << 4));
    put16(&g->out, (uint16_t)m.len);
    put(&g->out, m.buf, m.len);
    vuc_msg_release(&m);
}

static void rig_feature(struct rig *g, unsigned call, unsigned arg,
                        uint32_t flags, int64_t state)
{
    struct buf p = {0};

    put32(&p, 16);
    put32(&p, flags);
    if (state >= 0) {
        put32(&p, (uint32_t)state);
        put32(&p, UINT32_MAX);
    }
    rig_call(g, call, arg, VUC_CMD_DEVICE_FEATURE, &p);
    free(p.p);
}

static void rig_mig(struct rig *g, unsigned call, unsigned arg, bool write)
{
    struct buf p = {0};
    uint32_t size = arg * 16;

    put32(&p, write ? 8 : 8 + size);
    put32(&p, size);
    for (uint32_t i = 0; write && i < size; i++)
        put8(&p, 0);
    rig_call(g, call, arg,
             write ? VUC_CMD_MIG_DATA_WRITE : VUC_CMD_MIG_DATA_READ, &p);
    free(p.p);
}

static void rig_region(struct rig *g, unsigned call, unsigned arg, bool write)
{
    struct buf p = {0};
    uint32_t count = arg * 8;

    put64(&p, write ? 0x58 : 0);
    put32(&p, 0);
    put32(&p, count);
    for (uint32_t i = 0; write && i < count; i++)
        put8(&p, 0);
    rig_call(g, call, arg, write ? VUC_CMD_REGION_WRITE : VUC_CMD_REGION_READ,
             &p);
    free(p.p);
}

static void gen_client(void)
{
    const char *json = vuc_client_default_caps_json();
    struct vuc_srv_opts o;
    struct rig g = {.id = 1};
    struct buf p = {0};

    vuc_srv_opts_init(&o);
    o.state_size = 4096;
    if (vuc_srv_new(&o, &g.s) < 0 || vuc_mem_pair(&g.cli, &g.srv) < 0)
        die("no server");
    put16(&p, 0);
    put16(&p, 1);
    put(&p, json, strlen(json) + 1);
    rig_call(&g, FZC_CALL_NEGOTIATE, 0, VUC_CMD_VERSION, &p);
    rig_feature(&g, FZC_CALL_MIG_FLAGS, 0, VUC_FEATURE_GET | 1, -1);
    rig_feature(&g, FZC_CALL_GET_STATE, 0, VUC_FEATURE_GET | 2, -1);
    rig_feature(&g, FZC_CALL_SET_STATE, VUC_STATE_PRE_COPY, VUC_FEATURE_SET | 2,
                VUC_STATE_PRE_COPY);
    rig_mig(&g, FZC_CALL_MIG_READ, 15, false);
    rig_feature(&g, FZC_CALL_SET_STATE, VUC_STATE_STOP_COPY,
                VUC_FEATURE_SET | 2, VUC_STATE_STOP_COPY);
    rig_mig(&g, FZC_CALL_MIG_READ, 15, false);
    rig_feature(&g, FZC_CALL_SET_STATE, VUC_STATE_PRE_COPY, VUC_FEATURE_SET | 2,
                VUC_STATE_PRE_COPY); /* rejected */
    reset(&p);
    put32(&p, 32);
    put32(&p, 0);
    put32(&p, 0);
    put32(&p, 0);
    put64(&p, 0);
    put64(&p, 0);
    rig_call(&g, FZC_CALL_REGION_INFO, 0, VUC_CMD_DEVICE_GET_REGION_INFO, &p);
    rig_region(&g, FZC_CALL_REGION_READ, 1, false);
    rig_region(&g, FZC_CALL_REGION_WRITE, 1, true);
    rig_feature(&g, FZC_CALL_FEATURE, 2, VUC_FEATURE_GET | 2, -1);
    reset(&p);
    rig_call(&g, FZC_CALL_RESET, 0, VUC_CMD_DEVICE_RESET, &p);
    rig_feature(&g, FZC_CALL_SET_STATE, VUC_STATE_STOP, VUC_FEATURE_SET | 2,
                VUC_STATE_STOP);
    rig_feature(&g, FZC_CALL_SET_STATE, VUC_STATE_RESUMING, VUC_FEATURE_SET | 2,
                VUC_STATE_RESUMING);
    rig_mig(&g, FZC_CALL_MIG_WRITE, 1, true);
    /* nothing arrives for a last wait */
    put8(&g.out, FZC_CALL_RECV_ANY);
    put8(&g.out, 0);
    put16(&g.out, 0);
    save_buf("fuzz_client", "recorded-session", &g.out);

    /* the same replies, each with its header rewritten by the target */
    for (size_t at = 0; at + 4 <= g.out.n;) {
        size_t n = vuc_get_u16(g.out.p + at + 2);

        g.out.p[at + 1] |= FZC_CTL_PATCH_HDR | FZC_CTL_PATCH_SIZE;
        at += 4 + n;
    }
    save_buf("fuzz_client", "recorded-session-patched", &g.out);

    /* the server's own DMA_WRITE and DMA_READ (into the client's memory:
     * fuzz_client.c registers 8 KiB at 0x100000), then the reply to the
     * client's first request, all while it waits for that reply */
    {
        struct buf m = {0};

        put16(&m, 1);
        put16(&m, VUC_CMD_DMA_WRITE);
        put32(&m, 16 + 16 + 8);
        put32(&m, VUC_TYPE_COMMAND);
        put32(&m, 0);
        put64(&m, 0x100ff8);
        put64(&m, 8);
        put64(&m, 0x1122334455667788ull);
        put16(&m, 2);
        put16(&m, VUC_CMD_DMA_READ);
        put32(&m, 16 + 16);
        put32(&m, VUC_TYPE_COMMAND);
        put32(&m, 0);
        put64(&m, 0x101ff0);
        put64(&m, 16);
        put16(&m, 1); /* the client's first message id */
        put16(&m, VUC_CMD_DEVICE_FEATURE);
        put32(&m, 32);
        put32(&m, VUC_TYPE_REPLY);
        put32(&m, 0);
        put32(&m, 16);
        put32(&m, VUC_FEATURE_GET | 2);
        put32(&m, VUC_STATE_RUNNING);
        put32(&m, UINT32_MAX);
        reset(&g.out);
        put8(&g.out, FZC_CALL_GET_STATE);
        put8(&g.out, 0);
        put16(&g.out, (uint16_t)m.n);
        put(&g.out, m.p, m.n);
        save_buf("fuzz_client", "server-dma-requests", &g.out);
        free(m.p);
    }

    /* a server that hangs up in the middle of a reply */
    reset(&g.out);
    put8(&g.out, FZC_CALL_GET_STATE);
    put8(&g.out, FZC_CTL_PATCH_HDR | FZC_CTL_HANGUP);
    put16(&g.out, 20);
    put16(&g.out, 1);
    put16(&g.out, VUC_CMD_DEVICE_FEATURE);
    put32(&g.out, 32);
    put32(&g.out, VUC_TYPE_REPLY);
    put32(&g.out, 0);
    put32(&g.out, 16);
    put8(&g.out, FZC_CALL_GET_STATE);
    put8(&g.out, 0);
    put16(&g.out, 0);
    save_buf("fuzz_client", "hangup-mid-reply", &g.out);

    free(g.out.p);
    free(p.p);
    vuc_conn_close(g.cli);
    vuc_conn_close(g.srv);
    vuc_srv_free(g.s);
}

/* ---- fuzz_resume: streams from the writer ---- */

static size_t make_stream(uint8_t *out, size_t cap)
{
    static const struct vuc_stream_dev dev = {
        .vendor = FZR_VENDOR,
        .device = FZR_DEVICE,
        .state_size = FZR_STATE,
        .block_size = FZR_BLOCK,
        .chunk_size = FZR_CHUNK,
        .regs_size = FZR_REGS,
    };
    static uint8_t state[FZR_STATE], regs[FZR_REGS], copybuf[FZR_CHUNK];
    static uint64_t pending[(FZR_STATE / FZR_BLOCK + 63) / 64];
    static uint32_t sent_crc[FZR_STATE / FZR_BLOCK];
    struct vuc_save_cfg cfg = {
        .dev = dev,
        .state = state,
        .pending = pending,
        .sent_crc = sent_crc,
        .copybuf = copybuf,
    };
    struct vuc_save w;
    size_t n = 0, got;

    for (size_t i = 0; i < FZR_STATE; i++)
        state[i] = (uint8_t)(i * 7u + i / 256u);
    for (size_t i = 0; i < FZR_REGS; i++)
        regs[i] = (uint8_t)(0xf0u + i);
    if (vuc_save_init(&w, &cfg) < 0)
        die("vuc_save_init");
    vuc_save_end(&w, regs);
    while ((got = vuc_save_read(&w, out + n, cap - n)) > 0)
        n += got;
    return n;
}

static void resume_seed(const char *name, uint8_t mode, const uint8_t *p,
                        size_t n)
{
    struct buf b = {0};

    put8(&b, mode);
    put8(&b, 0x35); /* segmentation seed */
    put(&b, p, n);
    save_buf("fuzz_resume", name, &b);
    free(b.p);
}

static void gen_resume(void)
{
    static uint8_t s[8192];
    size_t n = make_stream(s, sizeof(s));
    uint8_t mut[] = {7, 0x10, 0x00, 0x01, 0x40, 0x02, 0x80};

    resume_seed("stream", FZR_MODE_RAW, s, n);
    resume_seed("stream-fix", FZR_MODE_FIX, s, n);
    resume_seed("stream-cut", FZR_MODE_RAW | FZR_MODE_TRUNCATED, s, n / 2);
    resume_seed("stream-noverify", FZR_MODE_RAW | FZR_MODE_NO_VERIFY, s, n);
    resume_seed("mutate-none", FZR_MODE_MUTATE, mut, 1);
    resume_seed("mutate-one", FZR_MODE_MUTATE, mut, 4);
    resume_seed("mutate-two", FZR_MODE_MUTATE, mut, sizeof(mut));
}

/* ---- fuzz_bitmap: two bitmaps and operations on them ---- */

enum { AT_CTX, AT_S, AT_D, AT_ZERO };               /* FZB_ADDR_ANCHOR */
enum { IN_BYTES, IN_SPAGES, IN_DPAGES, IN_SWORDS }; /* FZB_ADDR_UNIT */

/* An addr: anchor + n units (minus when n < 0) + byte. */
struct at {
    unsigned anchor, unit;
    int n, byte;
};

static void bm_addr(struct buf *b, struct at a)
{
    uint8_t sel = (uint8_t)(a.anchor | a.unit << 2);

    if (a.n < 0)
        sel |= FZB_ADDR_MINUS;
    if (a.byte)
        sel |= FZB_ADDR_BYTE;
    put8(b, sel);
    put16(b, (uint16_t)(a.n < 0 ? -a.n : a.n));
    if (a.byte)
        put8(b, (uint8_t)(int8_t)a.byte);
}

/* Shifts, sizes and bases; the fills come next. */
static void bm_begin(struct buf *b, uint8_t ss, uint8_t ds, uint16_t sn,
                     uint16_t dn, struct at sbase, struct at dbase)
{
    reset(b);
    put8(b, ss);
    put8(b, ds);
    put16(b, sn);
    put16(b, dn);
    bm_addr(b, sbase);
    bm_addr(b, dbase);
}

static void bm_random(struct buf *b, unsigned density, uint64_t seed)
{
    put8(b, (uint8_t)(FZB_FILL_RANDOM | density << 2));
    put64(b, seed);
}

static void bm_op(struct buf *b, uint8_t op, struct at start, struct at end)
{
    put8(b, op);
    bm_addr(b, start);
    bm_addr(b, end);
    if ((op & FZB_OP_KIND) == FZB_OP_CLEAR_S ||
        (op & FZB_OP_KIND) == FZB_OP_CLEAR_D)
        put8(b, 1); /* split: one word before the page boundary */
}

#define AT(a, u, n)         ((struct at){a, u, n, 0})
#define AT_B(a, u, n, byte) ((struct at){a, u, n, byte})
#define HERE                AT(AT_CTX, IN_BYTES, 0)

static void bitmap_seed(const char *name, const struct buf *b)
{
    save_buf("fuzz_bitmap", name, b);
}

/* Convert S to D over all of S, then back, then mark and clear a bit. */
static void bm_round(struct buf *b, uint16_t sn)
{
    bm_op(b, FZB_OP_CONVERT, HERE, AT(AT_S, IN_SPAGES, sn));
    bm_op(b, FZB_OP_CONVERT_REV, AT_B(AT_CTX, IN_SPAGES, 1, 7),
          AT_B(AT_S, IN_SPAGES, sn - 1, -3));
    bm_op(b, FZB_OP_MARK_D, AT_B(AT_CTX, IN_BYTES, 5, 0),
          AT_B(AT_CTX, IN_SPAGES, 3, 1));
    bm_op(b, FZB_OP_CLEAR_S, AT_B(AT_CTX, IN_BYTES, 0, 9),
          AT(AT_S, IN_SPAGES, sn / 2));
    bm_op(b, FZB_OP_CONVERT, AT(AT_S, IN_SPAGES, 1),
          AT_B(AT_S, IN_SPAGES, sn, 1));
}

/*
 * One seed per page-size ratio and base placement, each running the same
 * round of operations; then the edges and the -EINVAL cases.
 */
static void gen_bitmap(void)
{
    static const struct {
        const char *name;
        uint8_t ss, ds;
        uint16_t sn, dn;
        struct at dbase;
    } geo[] = {
        {"equal", 12, 12, 256, 256, AT(AT_S, IN_BYTES, 0)},
        {"equal-word-apart", 12, 12, 512, 640, AT(AT_S, IN_SWORDS, -2)},
        {"equal-3-pages-apart", 12, 12, 300, 310, AT(AT_S, IN_SPAGES, -3)},
        {"equal-straddle", 12, 12, 200, 201, AT(AT_S, IN_BYTES, -2048)},
        {"coarse-2x", 12, 13, 1000, 501, AT(AT_S, IN_BYTES, 0)},
        {"coarse-4x-unaligned", 12, 14, 777, 200, AT(AT_S, IN_SPAGES, -1)},
        {"coarse-16x", 12, 16, 4096, 256, AT(AT_S, IN_BYTES, 0)},
        {"coarse-64x-straddle", 12, 18, 4096, 65, AT(AT_S, IN_BYTES, -100)},
        {"coarse-512x", 12, 21, 4096, 9, AT(AT_S, IN_DPAGES, -1)},
        {"fine-2x", 13, 12, 500, 1001, AT(AT_S, IN_BYTES, 0)},
        {"fine-16x", 16, 12, 256, 4096, AT(AT_S, IN_BYTES, 0)},
        {"fine-16x-unaligned", 16, 12, 255, 4090, AT(AT_S, IN_DPAGES, -5)},
        {"fine-16x-straddle", 16, 12, 250, 4096, AT(AT_S, IN_BYTES, -1000)},
        {"fine-64x", 18, 12, 64, 4096, AT(AT_S, IN_BYTES, 0)},
        {"fine-512x", 21, 12, 8, 4096, AT(AT_S, IN_DPAGES, -7)},
        {"bytes-to-pages", 0, 12, 4096, 2, AT(AT_S, IN_BYTES, -1)},
        {"odd-nbits", 12, 12, 100, 65, AT(AT_S, IN_BYTES, -7)},
    };
    struct buf b = {0};

    for (size_t i = 0; i < sizeof(geo) / sizeof(geo[0]); i++) {
        bm_begin(&b, geo[i].ss, geo[i].ds, geo[i].sn, geo[i].dn,
                 AT(AT_ZERO, IN_SWORDS, 0x1000 + (int)i), geo[i].dbase);
        bm_random(&b, (unsigned)i % 4, 0x5eed + i);
        put8(&b, (uint8_t)(i % 2 ? FZB_FILL_ZERO
                                 : FZB_FILL_ONES | FZB_FILL_NO_TAIL));
        bm_round(&b, geo[i].sn);
        bitmap_seed(geo[i].name, &b);
    }

    /* the top of the address space: the last page ends at 2^64 */
    bm_begin(&b, 12, 16, 256, 16, AT(AT_ZERO, IN_SPAGES, -256),
             AT(AT_ZERO, IN_DPAGES, -16));
    bm_random(&b, 0, 1);
    put8(&b, FZB_FILL_ZERO);
    bm_op(&b, FZB_OP_CONVERT, HERE, AT_B(AT_ZERO, IN_BYTES, 0, -1));
    bm_op(&b, FZB_OP_CLEAR_S, AT(AT_S, IN_SPAGES, 200),
          AT_B(AT_ZERO, IN_BYTES, 0, -1));
    bm_op(&b, FZB_OP_MARK_S, AT(AT_S, IN_SPAGES, 100),
          AT_B(AT_ZERO, IN_BYTES, 0, -1));
    bm_op(&b, FZB_OP_CONVERT_REV, HERE, AT_B(AT_ZERO, IN_BYTES, 0, -1));
    bitmap_seed("top", &b);

    /* 2^63-byte pages: two of them cover everything */
    bm_begin(&b, 63, 62, 2, 4, AT(AT_ZERO, IN_BYTES, 0),
             AT(AT_ZERO, IN_BYTES, 0));
    put8(&b, FZB_FILL_ONES);
    put8(&b, FZB_FILL_ZERO);
    bm_op(&b, FZB_OP_CONVERT, AT(AT_S, IN_DPAGES, 1),
          AT_B(AT_ZERO, IN_BYTES, 0, -1));
    bm_op(&b, FZB_OP_CLEAR_S, HERE, AT_B(AT_ZERO, IN_BYTES, 0, -1));
    bm_op(&b, FZB_OP_CONVERT_REV, HERE, AT(AT_D, IN_DPAGES, 3));
    bitmap_seed("huge-pages", &b);

    /* a bitmap of bytes (shift 0) under one of 2^40-byte pages */
    bm_begin(&b, 40, 0, 3, 4096, AT(AT_ZERO, IN_BYTES, 0),
             AT(AT_S, IN_SPAGES, 1));
    put8(&b, FZB_FILL_ONES);
    bm_random(&b, 2, 9);
    bm_op(&b, FZB_OP_CONVERT, AT_B(AT_CTX, IN_BYTES, 0, 100),
          AT(AT_CTX, IN_BYTES, 3000));
    bm_op(&b, FZB_OP_CONVERT_REV, HERE, AT(AT_CTX, IN_BYTES, 4096));
    bitmap_seed("bytes-under-huge", &b);

    /*
     * Ranges one byte short of or past page boundaries, with bases one
     * byte apart: the exact one-page path for the pages cut by start or
     * end, where a byte more or less changes which src pages count.
     */
    bm_begin(&b, 0, 1, 512, 300, AT(AT_ZERO, IN_SPAGES, 4096),
             AT_B(AT_S, IN_BYTES, 0, -1));
    bm_random(&b, 0, 3);
    put8(&b, FZB_FILL_ZERO);
    bm_op(&b, FZB_OP_CONVERT, AT_B(AT_D, IN_DPAGES, 1, 1),
          AT_B(AT_D, IN_DPAGES, 100, -1));
    bm_op(&b, FZB_OP_CONVERT, AT_B(AT_D, IN_DPAGES, 120, -1),
          AT_B(AT_D, IN_DPAGES, 250, 1));
    bm_op(&b, FZB_OP_CONVERT_REV, AT_B(AT_S, IN_SPAGES, 3, 1),
          AT_B(AT_D, IN_DPAGES, 90, -1));
    bitmap_seed("cut-by-a-byte", &b);
    bm_begin(&b, 12, 14, 1024, 256, AT(AT_ZERO, IN_SPAGES, 4096),
             AT_B(AT_S, IN_BYTES, 0, -1));
    bm_random(&b, 2, 4);
    put8(&b, FZB_FILL_ZERO);
    bm_op(&b, FZB_OP_CONVERT, AT_B(AT_D, IN_DPAGES, 1, 1),
          AT_B(AT_D, IN_DPAGES, 100, -1));
    bm_op(&b, FZB_OP_CONVERT, AT_B(AT_S, IN_SPAGES, 401, -1),
          AT_B(AT_S, IN_SPAGES, 900, 1));
    bm_op(&b, FZB_OP_CLEAR_S, AT_B(AT_S, IN_SPAGES, 1, 1),
          AT_B(AT_S, IN_SPAGES, 9, -1));
    bitmap_seed("coarse-cut-by-a-byte", &b);

    /* mark, clear and the read-only copy: zero words either side */
    bm_begin(&b, 12, 12, 4096, 64, AT(AT_ZERO, IN_SPAGES, 16),
             AT(AT_S, IN_BYTES, 0));
    put8(&b, FZB_FILL_ZERO);
    put8(&b, FZB_FILL_ZERO);
    bm_op(&b, FZB_OP_MARK_S, AT_B(AT_CTX, IN_SWORDS, 3, 5),
          AT_B(AT_CTX, IN_SWORDS, 4, -5));
    bm_op(&b, FZB_OP_CLEAR_S, HERE, AT(AT_S, IN_SPAGES, 4096));
    bm_op(&b, FZB_OP_MARK_S, AT(AT_ZERO, IN_BYTES, 0),
          AT_B(AT_S, IN_SPAGES, 2, 1));
    bm_op(&b, FZB_OP_CLEAR_S, AT_B(AT_S, IN_SPAGES, 1, -1),
          AT(AT_S, IN_SPAGES, 4000));
    bm_op(&b, FZB_OP_MARK_D, HERE, HERE);
    bm_op(&b, FZB_OP_CLEAR_D, HERE, AT(AT_D, IN_DPAGES, 64));
    bitmap_seed("mark-clear", &b);

    /* no pages at all: words NULL is valid */
    bm_begin(&b, 12, 12, 0, 0, AT(AT_ZERO, IN_BYTES, 0),
             AT(AT_ZERO, IN_BYTES, 0));
    put8(&b, FZB_FILL_ONES);
    put8(&b, FZB_FILL_ONES);
    bm_op(&b, FZB_OP_CONVERT, HERE, AT(AT_ZERO, IN_SPAGES, 10));
    bm_op(&b, FZB_OP_MARK_S, HERE, AT(AT_ZERO, IN_SPAGES, 10));
    bm_op(&b, FZB_OP_CLEAR_D | FZB_BAD_WORDS, HERE, HERE);
    bitmap_seed("empty", &b);

    /* -EINVAL: each documented case once, and words NULL of 0 bits */
    bm_begin(&b, 12, 14, 64, 64, AT(AT_ZERO, IN_SPAGES, 64),
             AT(AT_S, IN_SPAGES, 2));
    bm_random(&b, 3, 77);
    put8(&b, FZB_FILL_ZERO);
    bm_op(&b, FZB_OP_CONVERT, HERE, AT_B(AT_CTX, IN_BYTES, 0, -1));
    bm_op(&b, FZB_OP_CONVERT, AT(AT_S, IN_SPAGES, 1), AT(AT_S, IN_SPAGES, 9));
    bm_op(&b, FZB_OP_CONVERT_REV, AT(AT_S, IN_SPAGES, 1),
          AT(AT_D, IN_DPAGES, 9));
    bm_op(&b, FZB_OP_CONVERT | FZB_BAD_NULL, HERE, AT(AT_CTX, IN_BYTES, 1));
    bm_op(&b, FZB_OP_CONVERT | FZB_BAD_NULL | FZB_OP_BAD_DST, HERE,
          AT(AT_CTX, IN_BYTES, 1));
    bm_op(&b, FZB_OP_CONVERT | FZB_BAD_WORDS, HERE, AT(AT_CTX, IN_BYTES, 1));
    bm_op(&b, FZB_OP_CONVERT | FZB_BAD_SHIFT | FZB_OP_BAD_DST, HERE,
          AT(AT_CTX, IN_BYTES, 1));
    bm_op(&b, FZB_OP_MARK_S, HERE, AT_B(AT_CTX, IN_BYTES, 0, -1));
    bm_op(&b, FZB_OP_MARK_D | FZB_BAD_NULL, HERE, HERE);
    bm_op(&b, FZB_OP_CLEAR_S | FZB_BAD_SHIFT, HERE, AT(AT_S, IN_SPAGES, 64));
    bm_op(&b, FZB_OP_CLEAR_D | FZB_BAD_WORDS, HERE, AT(AT_S, IN_SPAGES, 64));
    bm_op(&b, FZB_OP_CLEAR_S, AT(AT_ZERO, IN_BYTES, 1),
          AT(AT_ZERO, IN_BYTES, 0));
    bitmap_seed("einval", &b);

    /* a shift > 63 in the bitmap itself: every operation refused */
    bm_begin(&b, FZB_SHIFT_BAD, 12, 64, 64, AT(AT_ZERO, IN_BYTES, 0),
             AT(AT_ZERO, IN_BYTES, 0));
    put8(&b, FZB_FILL_ONES);
    put8(&b, FZB_FILL_ZERO);
    bm_op(&b, FZB_OP_CONVERT, HERE, AT(AT_D, IN_DPAGES, 64));
    bm_op(&b, FZB_OP_MARK_S, HERE, AT(AT_D, IN_DPAGES, 64));
    bm_op(&b, FZB_OP_CLEAR_S, HERE, AT(AT_D, IN_DPAGES, 64));
    bitmap_seed("bad-shift", &b);

    /* raw words and raw addresses */
    bm_begin(&b, 12, 15, 130, 20, AT(AT_ZERO, IN_BYTES, 0x3000),
             AT(AT_ZERO, IN_BYTES, 0x1800));
    put8(&b, FZB_FILL_RAW);
    put64(&b, 0x8000000000000001ull);
    put64(&b, 0x00ff00ff00ff00ffull);
    put64(&b, 0xfffffffffffffffcull); /* 2 bits used: junk above */
    put8(&b, FZB_FILL_RAW);
    put64(&b, 0xfff00000ull); /* junk above bit 20 */
    put8(&b, FZB_OP_CONVERT);
    put8(&b, FZB_ADDR_RAW);
    put64(&b, 0x3001);
    put8(&b, FZB_ADDR_RAW);
    put64(&b, 0x3000 + 130 * 4096 - 1);
    bm_op(&b, FZB_OP_CONVERT_REV, HERE, AT(AT_CTX, IN_DPAGES, 30));
    bitmap_seed("raw", &b);
    free(b.p);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    if (mkdir(argv[1], 0755) < 0 && errno != EEXIST)
        die(strerror(errno));
    if (chdir(argv[1]) < 0)
        die(strerror(errno));
    gen_codec();
    gen_caps();
    gen_server();
    gen_client();
    gen_resume();
    gen_bitmap();
    return 0;
}
