/* Jazzer.js 4.x ships a libFuzzer addon built against glibc >= 2.38 and libstdc++ 13
 * (GLIBC_2.38, GLIBCXX_3.4.32). Debian 12 has glibc 2.36: this shim, loaded with LD_PRELOAD,
 * defines the three symbols the addon needs from those versions (the C23 strtol family, which
 * differ from the old ones only in accepting a 0b prefix, and libstdc++'s iostream init hook,
 * which 3.4.30's libstdc++ runs from its own constructor). patch-addon.mjs marks the addon's
 * requirement of those versions weak, so the loader binds the symbols here. Built by
 * `npm run setup`; on glibc >= 2.38 none of this is used. */
#include <stdlib.h>

long __isoc23_strtol(const char *nptr, char **endptr, int base) { return strtol(nptr, endptr, base); }
unsigned long __isoc23_strtoul(const char *nptr, char **endptr, int base) { return strtoul(nptr, endptr, base); }
/* std::ios_base_library_init(), mangled. */
void _ZSt21ios_base_library_initv(void) {}
