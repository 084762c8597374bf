#!/usr/bin/env python3
"""Generates tests/unit/lines_cases.h: line tables of real code objects and
the line CPython itself gives every instruction, for test_lines.c.

    gen_lines_cases.py [--out PATH] [PYTHON ...]

Runs itself (--emit) under each interpreter (by default every pyenv
3.8 - 3.14 found, newest patch release of each, and /usr/bin/python3.11),
which compiles the same sample source and prints, for every code object in
it: co_firstlineno, the line table (co_lnotab up to 3.9, co_linetable from
3.10) and the expected line of every instruction offset, in the unit
pyhs_line_for_offset takes for that version (heapmodel/lines.h):

  3.8, 3.9   byte offsets 0, 2, 4, ...: dis.findlinestarts (the last line
             start at or before the offset)
  3.10       code-unit indexes: co_lines() ranges (bytes) containing 2 * i,
             None -> -1
  3.11+      code-unit indexes (caches included): co_positions(), one per
             code unit, line None -> -1; checked against co_lines() too

The header is small C arrays; regenerate after installing an interpreter.
Works under Python 3.8 and later (the --emit side must).
"""

import glob
import json
import os
import re
import subprocess
import sys

SAMPLE = '''\
import os


def simple(a, b):
    x = a + b
    y = x * 2
    return y


def branches(items, flag):
    total = 0
    for i in items:
        if i % 2:
            total += i
        elif flag:
            total -= i
        else:
            continue
    while total > 100:
        total //= 2
    try:
        total = 10 // total
    except ZeroDivisionError:
        total = -1
    finally:
        flag = not flag
    with open(os.devnull) as f:
        f.read()
    return total, flag


def multiline(a, b):
    x = max(
        a,
        b,
    )
    y = (a +
         b +
         x)
    return [
        x,
        y,
    ]


def nested(n):
    def inner(k):
        return k + n
    squares = [inner(i) * i for i in range(n)]
    gen = (s for s in squares if s)
    return lambda: sum(gen)


def generator(n):
    for i in range(n):
        yield i
        yield from range(i)


async def coroutine(x):
    return await x


def big_jump(a):
    a += 1
''' + '    # filler\n' * 300 + '''\
    a += 2
''' + '\n' * 200 + '''\
    return a


def long_line(a):
    if a:  # jumps over more than 255 bytes: EXTENDED_ARG
        a = (''' + ' + '.join('a * %d' % k for k in range(1, 40)) + ''')
    return a


def negative(a,
             b):
    return \\
        a(
            b)


class Klass:
    attr = 1

    def method(self):
        return self.attr
'''

# A second source whose functions start late: large co_firstlineno.
LATE = '\n' * 5000 + '''\
def late(a):
    b = a
    return b
'''


def codes(code):
    yield code
    for c in code.co_consts:
        if hasattr(c, 'co_code'):
            for sub in codes(c):
                yield sub


def lnotab_addr2line(code, addr):
    """PyCode_Addr2Line of 3.8/3.9, from Objects/lnotab_notes.txt."""
    t = code.co_lnotab
    line = code.co_firstlineno
    a = 0
    for i in range(0, len(t) - 1, 2):
        a += t[i]
        if a > addr:
            break
        d = t[i + 1]
        line += d - 256 if d >= 128 else d
    return line


def expected_lines(code):
    minor = sys.version_info[1]
    nbytes = len(code.co_code)
    if minor <= 9:
        import dis
        starts = list(dis.findlinestarts(code))
        lines = []
        for off in range(0, nbytes, 2):
            line = -1
            for s, l in starts:
                if s <= off:
                    line = l
            if line != lnotab_addr2line(code, off):
                raise SystemExit('findlinestarts and lnotab_notes disagree at %d in %s'
                                 % (off, code.co_name))
            lines.append(line)
        return bytes(code.co_lnotab), lines
    if minor == 10:
        ranges = list(code.co_lines())
        lines = []
        for i in range(nbytes // 2):
            line = -1
            for start, end, l in ranges:
                if start <= 2 * i < end:
                    line = -1 if l is None else l
                    break
            lines.append(line)
        return bytes(code.co_linetable), lines
    positions = list(code.co_positions())
    if len(positions) != nbytes // 2:
        raise SystemExit('co_positions has %d entries for %d code units in %s'
                         % (len(positions), nbytes // 2, code.co_name))
    lines = [-1 if p[0] is None else p[0] for p in positions]
    for start, end, l in code.co_lines():
        for i in range(start // 2, end // 2):
            if lines[i] != (-1 if l is None else l):
                raise SystemExit('co_lines and co_positions disagree at %d in %s'
                                 % (i, code.co_name))
    return bytes(code.co_linetable), lines


def emit():
    out = {'minor': sys.version_info[1],
           'version': sys.version.split()[0],
           'executable': sys.executable,
           'cases': []}
    for src in (SAMPLE, LATE):
        for code in codes(compile(src, 'sample.py', 'exec')):
            table, lines = expected_lines(code)
            out['cases'].append({'name': code.co_name,
                                 'firstlineno': code.co_firstlineno,
                                 'table': list(table),
                                 'lines': lines})
    json.dump(out, sys.stdout)


def pyenv_root():
    try:
        r = subprocess.run(['pyenv', 'root'], stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL, timeout=30)
        if r.returncode == 0 and r.stdout.strip():
            return r.stdout.decode().strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return os.environ.get('PYENV_ROOT') or os.path.expanduser('~/.pyenv')


def default_pythons():
    found = []
    root = pyenv_root()
    for minor in range(8, 15):
        v = '3.%d' % minor
        cands = glob.glob(os.path.join(root, 'versions', v + '.*', 'bin', 'python' + v))
        cands = [c for c in cands if re.search(r'/versions/3\.\d+\.\d+/', c)]
        if cands:
            found.append(max(cands, key=lambda c: int(
                re.search(r'/versions/3\.\d+\.(\d+)/', c).group(1))))
    if os.access('/usr/bin/python3.11', os.X_OK):
        found.append('/usr/bin/python3.11')
    return found


def c_ident(s):
    return re.sub(r'[^A-Za-z0-9_]', '_', s)


def c_array(ctype, name, values, per_line=16):
    rows = []
    for i in range(0, len(values), per_line):
        rows.append('\t' + ', '.join(str(v) for v in values[i:i + per_line]) + ',')
    if not rows:
        rows.append('\t0, /* empty */')
    return 'static const %s %s[] = {\n%s\n};\n' % (ctype, name, '\n'.join(rows))


def main(argv):
    out_path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'lines_cases.h')
    pythons = []
    i = 0
    while i < len(argv):
        if argv[i] == '--emit':
            emit()
            return 0
        if argv[i] == '--out':
            out_path = argv[i + 1]
            i += 2
            continue
        pythons.append(argv[i])
        i += 1
    if not pythons:
        pythons = default_pythons()
    results = []
    for py in pythons:
        r = subprocess.run([py, '-I', os.path.abspath(__file__), '--emit'],
                           stdout=subprocess.PIPE, check=True)
        res = json.loads(r.stdout.decode())
        res['label'] = res['version'] + (' (%s)' % py if py.startswith('/usr/') else '')
        results.append(res)
        sys.stderr.write('%s: %d code objects\n' % (res['label'], len(res['cases'])))

    parts = ['/* Generated by tests/unit/gen_lines_cases.py from:\n']
    for res in results:
        parts.append(' *   %s\n' % res['label'])
    parts.append(' * Do not edit; rerun the generator. */\n'
                 '#ifndef LINES_CASES_H\n#define LINES_CASES_H\n\n'
                 '#include <stddef.h>\n#include <stdint.h>\n\n'
                 '/* The expected lines as runs: runs[2j] is the first offset index k\n'
                 ' * of run j and runs[2j+1] its line (-1: none); the offset is\n'
                 ' * k * offset_step in the unit of pyhs_line_for_offset for that minor\n'
                 ' * version, for k in 0 .. nlines - 1. */\n'
                 'struct lines_case {\n'
                 '\tunsigned minor;\n\tconst char *version;\n\tconst char *name;\n'
                 '\tint firstlineno;\n\tconst uint8_t *table;\n\tsize_t len;\n'
                 '\tconst int *runs;\n\tsize_t nruns;\n\tsize_t nlines;\n\tunsigned offset_step;\n'
                 '};\n\n')
    entries = []
    for vi, res in enumerate(results):
        for ci, case in enumerate(res['cases']):
            base = 'v%d_%d_%s' % (vi, ci, c_ident(case['name']))
            parts.append(c_array('uint8_t', base + '_table', case['table']))
            runs = []
            for k, line in enumerate(case['lines']):
                if k == 0 or line != case['lines'][k - 1]:
                    runs += [k, line]
            parts.append(c_array('int', base + '_runs', runs))
            entries.append('\t{ %d, "%s", "%s", %d, %s_table, %d, %s_runs, %d, %d, %d },'
                           % (res['minor'], res['label'], case['name'],
                              case['firstlineno'], base, len(case['table']),
                              base, len(runs) // 2, len(case['lines']),
                              2 if res['minor'] <= 9 else 1))
    parts.append('\nstatic const struct lines_case lines_cases[] = {\n%s\n};\n'
                 % '\n'.join(entries))
    parts.append('#define N_LINES_CASES (sizeof(lines_cases) / sizeof(lines_cases[0]))\n'
                 '\n#endif\n')
    with open(out_path, 'w') as f:
        f.write(''.join(parts))
    sys.stderr.write('wrote %s: %d cases\n' % (out_path, len(entries)))
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
