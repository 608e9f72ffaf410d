"""bench/RESULTS.md holds the load benchmark's report and, after it, one section per other
benchmark, each between `<!-- begin NAME -->` and `<!-- end NAME -->`. Each script rewrites
only its own part: `put` replaces (or appends) one section, `others` gives the sections a
rewrite of the load report must keep."""
import os
import re

_SECTION = re.compile(r'<!-- begin (\S+) -->\n.*?<!-- end \1 -->\n', re.S)


def others(path):
    """Every section of the file at `path`, as text, or '' when there is none."""
    if not os.path.exists(path):
        return ''
    with open(path) as f:
        return ''.join(m.group(0) for m in _SECTION.finditer(f.read()))


def put(path, name, body):
    """Writes `body` as the section `name` of the file at `path`, keeping the rest."""
    text = open(path).read() if os.path.exists(path) else ''
    block = '<!-- begin {0} -->\n{1}<!-- end {0} -->\n'.format(name, body if body.endswith('\n') else body + '\n')
    pattern = re.compile(r'<!-- begin {0} -->\n.*?<!-- end {0} -->\n'.format(re.escape(name)), re.S)
    if pattern.search(text):
        text = pattern.sub(lambda _: block, text)
    else:
        text = text.rstrip('\n') + '\n\n' + block if text else block
    with open(path, 'w') as f:
        f.write(text)
