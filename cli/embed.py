"""Turns a file into a C header holding its bytes as a string constant."""
import sys

src, dst, name = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(src, "rb").read()
with open(dst, "w") as out:
    out.write("/* generated from %s */\n" % src.split("/")[-1])
    out.write("static const char %s[] =\n" % name)
    for i in range(0, len(data), 16):
        chunk = data[i:i + 16]
        out.write('\t"' + "".join("\\x%02x" % b for b in chunk) + '"\n')
    out.write(";\n")
