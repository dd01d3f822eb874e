/*
 * fuzz_config.c - the daemon's INI configuration parser (daemon/config.c) on
 * arbitrary files.
 *
 * The input is the whole file, handed to avf_config_load() through a memfd. A
 * file that loads must hold only sources that pass their own checks and copy
 * into equal sources; a file that is refused must say why as "path...: reason".
 */
#include <string.h>
#include <unistd.h>

#include "daemon/config.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    char path[64], why[600];
    avf_config *c = NULL;
    int fd, ret;

    if (!ready) {
        fuzz_quiet();
        ready = 1;
    }
    fd = fuzz_memfile(data, size, path, sizeof(path));
    if (fd < 0)
        return 0;
    memset(why, 'x', sizeof(why));
    ret = avf_config_load(&c, path, why, sizeof(why));
    close(fd);
    if (ret < 0) {
        FUZZ_ASSERT(!c);
        FUZZ_ASSERT(memchr(why, 0, sizeof(why)));
        FUZZ_ASSERT(!strncmp(why, path, strlen(path)));
        return 0;
    }
    FUZZ_ASSERT(c && c->publish && c->nb_sources >= 0);
    for (int i = 0; i < c->nb_sources; i++) {
        const avf_source_conf *sc = &c->sources[i];
        avf_source_conf copy;
        char reason[400];

        FUZZ_ASSERT(avf_source_conf_check(sc, reason, sizeof(reason)) == 0);
        FUZZ_ASSERT(avf_config_find(c, sc->name) == sc);
        if (avf_source_conf_copy(&copy, sc) == 0) {
            FUZZ_ASSERT(avf_source_conf_equal(sc, &copy));
            avf_source_conf_clear(&copy);
        }
    }
    avf_config_free(&c);
    FUZZ_ASSERT(!c);
    return 0;
}
