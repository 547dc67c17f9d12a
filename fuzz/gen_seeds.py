#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-3-Clause
"""Write the fuzz targets' seed corpora and dictionaries.

Seeds: builds vuc_gen_seeds (fuzz/gen_seeds.c) in a build directory, runs
it, and files every seed under corpus/<target>/ named by the sha256 of its
content. Seeds already there are kept, so inputs a campaign merged in are
never lost; a seed whose format changed is new content and a new file
(remove the old ones by hand when fuzz_priv.h changes a format).

Dictionaries: fuzz/dict/<target>.dict, the protocol's constants as
libFuzzer/AFL++ tokens in host (little-endian) byte order: command
numbers, header flags, feature flag words, states, migration flags, BAR0
offsets, the capability JSON keys, the stream format's magic and fields,
fuzz_bitmap's shifts, sizes, address selectors and operations.

Usage: fuzz/gen_seeds.py [--build-dir DIR] [--no-seeds] [--no-dicts]
"""
import argparse
import hashlib
import os
import shutil
import struct
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# msgs.def, wire.h, STREAM.md, fuzz_priv.h: the values the dictionaries hold
COMMANDS = [('VERSION', 1), ('DMA_MAP', 2), ('DMA_UNMAP', 3),
            ('DEVICE_GET_INFO', 4), ('DEVICE_GET_REGION_INFO', 5),
            ('DEVICE_GET_REGION_IO_FDS', 6), ('DEVICE_GET_IRQ_INFO', 7),
            ('DEVICE_SET_IRQS', 8), ('REGION_READ', 9), ('REGION_WRITE', 10),
            ('DMA_READ', 11), ('DMA_WRITE', 12), ('DEVICE_RESET', 13),
            ('REGION_WRITE_MULTI', 15), ('DEVICE_FEATURE', 16),
            ('MIG_DATA_READ', 17), ('MIG_DATA_WRITE', 18)]
STATES = ['ERROR', 'STOP', 'RUNNING', 'STOP_COPY', 'RESUMING', 'RUNNING_P2P',
          'PRE_COPY', 'PRE_COPY_P2P']
FEATURES = [('migration', 1), ('mig_state', 2), ('log_start', 6),
            ('log_stop', 7), ('log_report', 8)]
MACROS = [('set', 0x80), ('get', 0x81), ('read', 0x82), ('replay', 0x83),
          ('fault', 0x84), ('reconnect', 0x85), ('drain', 0x86),
          ('poke', 0x87), ('dirty', 0x88), ('reset', 0x89), ('dma', 0x8a),
          ('log_start', 0x8b), ('log_stop', 0x8c), ('log_report', 0x8d)]
JSON_KEYS = ['capabilities', 'max_msg_fds', 'max_data_xfer_size',
             'max_dma_maps', 'pgsizes', 'twin_socket', 'supported',
             'fd_index', 'write_multiple', 'migration', 'pgsize']


def tok(name, data):
    return '%s="%s"' % (name, ''.join('\\x%02x' % c for c in data))


def u16(v):
    return struct.pack('<H', v)


def u32(v):
    return struct.pack('<I', v)


def u64(v):
    return struct.pack('<Q', v)


def wire_tokens():
    out = ['# vfio-user wire constants (wire.h, msgs.def), host byte order']
    out += [tok('cmd_' + n, u16(v)) for n, v in COMMANDS]
    out += [tok('hflags_reply', u32(1)), tok('hflags_no_reply', u32(0x10)),
            tok('hflags_error', u32(0x20)), tok('hflags_reply_error', u32(0x21))]
    for m, bit in [('get', 1 << 16), ('set', 1 << 17), ('probe', 1 << 18)]:
        out += [tok('feat_%s_%s' % (m, f), u32(bit | i)) for f, i in FEATURES]
    out += [tok('state_' + s, u32(i)) for i, s in enumerate(STATES)]
    out += [tok('state_8', u32(8)),
            tok('mig_flags_stop_copy', u64(1)), tok('mig_flags_p2p', u64(3)),
            tok('mig_flags_pre_copy', u64(5)), tok('mig_flags_all', u64(7)),
            tok('argsz_8', u32(8)), tok('argsz_16', u32(16)),
            tok('argsz_24', u32(24)), tok('argsz_32', u32(32)),
            tok('size_16', u32(16)), tok('size_max_xfer', u32(1048576)),
            tok('page_4096', u64(4096)), tok('data_fd_none', u32(0xffffffff)),
            tok('dma_rw', u32(3)), tok('bar0_fault', u64(0x18)),
            tok('bar0_state_addr', u64(0x38)), tok('bar0_state_data', u64(0x40)),
            tok('bar0_dirty', u64(0x48)), tok('bar0_digest', u64(0x50)),
            tok('region_config', u32(7)), tok('errno_EINVAL', u32(22)),
            tok('errno_EIO', u32(5)), tok('errno_ENOTTY', u32(25)),
            tok('errno_ENOSYS', u32(38))]
    return out


def json_tokens():
    out = ['# VERSION capabilities JSON (spec: VFIO_USER_VERSION)']
    out += ['json_key_%s="\\"%s\\""' % (k, k) for k in JSON_KEYS]
    out += ['json_true="true"', 'json_false="false"', 'json_null="null"',
            'json_obj="{}"', 'json_colon=":"',
            'json_u64max="18446744073709551615"',
            'json_i64max="9223372036854775807"', 'json_neg="-1"',
            'json_float="1.0"', 'json_exp="1e3"', 'json_4096="4096"',
            'json_1m="1048576"', 'json_caps="{\\"capabilities\\":{"',
            'json_arr="["', 'json_arr_end="]"', 'json_comma=","',
            'json_esc_u="\\\\u00"', 'json_nan="NaN"', "json_squote=\"'\""]
    return out


def stream_tokens():
    out = ['# vucert-server migration stream (reference-server/STREAM.md)',
           tok('magic', u32(0x52435556))]
    out += [tok('type_' + n, u16(v))
            for n, v in [('header', 1), ('chunk', 2), ('regs', 3), ('end', 4)]]
    out += [tok('version', u32(2)), tok('vendor', u16(0x1de5)),
            tok('device', u16(1)), tok('fz_state_size', u64(1024)),
            tok('fz_block', u32(64)), tok('fz_chunk', u32(256)),
            tok('fz_regs', u32(40)), tok('srv_block', u32(4096)),
            tok('srv_regs', u32(4040)), tok('srv_state_16k', u64(16384)),
            tok('len_header', u32(32)), tok('len_end', u32(16))]
    return out


def record_tokens():
    out = ['# fuzz_server records (fuzz/fuzz_priv.h): op, ctl, u16 length']
    out += [tok('rec_' + n, bytes([v, 0])) for n, v in MACROS]
    out += [tok('rec_set_' + s, bytes([0x80, 0, 1, 0, i]))
            for i, s in enumerate(STATES)]
    return out


def bitmap_tokens():
    """fuzz_bitmap's input (fuzz_priv.h: FZB_*): shifts, sizes, addrs."""
    out = ['# fuzz_bitmap input (fuzz/fuzz_priv.h: FZB_*)']
    out += [tok('shift_%d' % v, bytes([v])) for v in (0, 12, 16, 21, 30, 62,
                                                       63)]
    out += [tok('shift_bad', bytes([0xc0])), tok('shift_bad_63', b'\xff')]
    out += [tok('nbits_%d' % v, u16(v)) for v in (1, 63, 64, 65, 4095, 4096)]
    # addr: sel (anchor | unit << 2 | minus 0x10 | byte 0x20 | raw 0x40)
    for a, an in enumerate(['ctx', 's', 'd', 'zero']):
        for u, un in enumerate(['byte', 'spage', 'dpage', 'sword']):
            out.append(tok('addr_%s_%s' % (an, un), bytes([a | u << 2])))
    out += [tok('addr_top', b'\x23\x00\x00\xff'),
            tok('addr_top_spage', b'\x17\x01\x00'),
            tok('addr_top_dpage', b'\x1b\x01\x00'),
            tok('addr_ctx_minus_1', b'\x30\x00\x00\xff'),
            tok('addr_raw', b'\x40')]
    out += [tok('raw_' + n, u64(v)) for n, v in
            [('top_page', 0xfffffffffffff000), ('max', 0xffffffffffffffff),
             ('half', 0x8000000000000000), ('4g', 0x100000000)]]
    # op: kind | bad << 3 | bad on dst 0x20 | shift (op >> 6)
    out += [tok('op_' + n, bytes([v])) for n, v in
            [('convert', 0), ('convert_rev', 1), ('mark_s', 2),
             ('mark_d', 3), ('clear_s', 4), ('clear_d', 5),
             ('null', 0x08), ('null_dst', 0x28), ('words_null', 0x10),
             ('bad_shift', 0x18)]]
    out += [tok('fill_' + n, bytes([v])) for n, v in
            [('raw', 0), ('random', 1), ('sparse', 9), ('ones', 2),
             ('zero', 3), ('ones_no_tail', 0x82)]]
    return out


DICTS = {
    'fuzz_codec': wire_tokens,
    'fuzz_caps': json_tokens,
    'fuzz_server': lambda: (record_tokens() + wire_tokens() + json_tokens() +
                            stream_tokens()),
    'fuzz_client': lambda: wire_tokens() + json_tokens(),
    'fuzz_resume': stream_tokens,
    'fuzz_bitmap': bitmap_tokens,
}


def write_dicts():
    d = os.path.join(ROOT, 'fuzz', 'dict')
    os.makedirs(d, exist_ok=True)
    for target, make in DICTS.items():
        with open(os.path.join(d, target + '.dict'), 'w') as f:
            f.write('# SPDX-License-Identifier: BSD-3-Clause\n')
            f.write('# %s dictionary (libFuzzer -dict, AFL++ -x); written '
                    'by fuzz/gen_seeds.py\n' % target)
            f.write('\n'.join(make()) + '\n')
    print('gen_seeds: %d dictionaries in fuzz/dict/' % len(DICTS))


def build(build_dir):
    if not os.path.exists(os.path.join(build_dir, 'CMakeCache.txt')):
        subprocess.run(['cmake', '-S', ROOT, '-B', build_dir,
                        '-DVUC_TESTS=OFF'], check=True,
                       stdout=subprocess.DEVNULL)
    subprocess.run(['cmake', '--build', build_dir, '--target',
                    'vuc_gen_seeds', '-j%d' % (os.cpu_count() or 1)],
                   check=True, stdout=subprocess.DEVNULL)
    return os.path.join(build_dir, 'bin', 'vuc_gen_seeds')


def write_seeds(build_dir):
    gen = build(build_dir)
    added = kept = 0
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run([gen, tmp], check=True)
        for target in sorted(os.listdir(tmp)):
            dst = os.path.join(ROOT, 'corpus', target)
            os.makedirs(dst, exist_ok=True)
            for name in sorted(os.listdir(os.path.join(tmp, target))):
                src = os.path.join(tmp, target, name)
                with open(src, 'rb') as f:
                    digest = hashlib.sha256(f.read()).hexdigest()
                path = os.path.join(dst, digest)
                if os.path.exists(path):
                    kept += 1
                else:
                    shutil.copyfile(src, path)
                    added += 1
    print('gen_seeds: %d seeds added, %d already in corpus/' % (added, kept))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--build-dir', default=os.path.join(ROOT, 'build-seeds'))
    ap.add_argument('--no-seeds', action='store_true')
    ap.add_argument('--no-dicts', action='store_true')
    a = ap.parse_args()
    if not a.no_dicts:
        write_dicts()
    if not a.no_seeds:
        write_seeds(os.path.abspath(a.build_dir))
    return 0


if __name__ == '__main__':
    sys.exit(main())
