/* pool_kdf: PBKDF2-HMAC-SHA256 secret hashes. */
#include <string.h>

#include <apr_pools.h>
#include <apr_strings.h>

#include "unit.h"
#include "pool_kdf.h"
#include "pool_util.h"

static apr_pool_t *p;

static void setup(void)
{
    ck_assert_int_eq(apr_pool_create(&p, NULL), APR_SUCCESS);
}

static void teardown(void)
{
    apr_pool_destroy(p);
    p = NULL;
}

/* Computed independently:
 *   python3 -c "import hashlib,base64; print(base64.urlsafe_b64encode(
 *     hashlib.pbkdf2_hmac('sha256', b'correct horse battery staple',
 *     b'0123456789abcdef', 1000)).rstrip(b'='))"
 * (hex caa4aad92ca0635b01e04707f5fd851b42533044bec2a2ec393e589a2441a652) */
#define KNOWN_SECRET "correct horse battery staple"
#define KNOWN_SALT   "MDEyMzQ1Njc4OWFiY2RlZg"
#define KNOWN_HASH   "yqSq2SygY1sB4EcH9f2FG0JTMES-wqLsOT5YmiRBplI"
#define KNOWN        "pbkdf2-sha256$1000$" KNOWN_SALT "$" KNOWN_HASH

START_TEST(hash_format)
{
    const char *prefix = "pbkdf2-sha256$100000$";
    char *h = pool_kdf_hash(p, "s3cret");
    char *salt, *hash;
    unsigned char *d;

    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(strncmp(h, prefix, strlen(prefix)), 0);
    salt = apr_pstrdup(p, h + strlen(prefix));
    hash = strchr(salt, '$');
    ck_assert_ptr_nonnull(hash);
    *hash++ = '\0';
    ck_assert_ptr_null(strchr(hash, '$'));
    ck_assert_int_eq(pool_b64url_decode(p, salt, strlen(salt), &d),
                     POOL_KDF_SALT_LEN);
    ck_assert_int_eq(pool_b64url_decode(p, hash, strlen(hash), &d),
                     POOL_KDF_HASH_LEN);
}
END_TEST

START_TEST(round_trip)
{
    char *h = pool_kdf_hash(p, "s3cret");

    ck_assert_int_eq(pool_kdf_verify("s3cret", h), 1);
    ck_assert_int_eq(pool_kdf_verify("s3creT", h), 0);
    ck_assert_int_eq(pool_kdf_verify("s3cret ", h), 0);
    ck_assert_int_eq(pool_kdf_verify("s3cre", h), 0);
    ck_assert_int_eq(pool_kdf_verify("", h), 0);

    h = pool_kdf_hash(p, "");
    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(pool_kdf_verify("", h), 1);
    ck_assert_int_eq(pool_kdf_verify("x", h), 0);
}
END_TEST

START_TEST(salts_differ)
{
    char *a = pool_kdf_hash(p, "same secret");
    char *b = pool_kdf_hash(p, "same secret");

    ck_assert_str_ne(a, b);
    ck_assert_int_eq(pool_kdf_verify("same secret", a), 1);
    ck_assert_int_eq(pool_kdf_verify("same secret", b), 1);
}
END_TEST

START_TEST(known_vector)
{
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, KNOWN), 1);
    ck_assert_int_eq(pool_kdf_verify("correct horse battery stapler", KNOWN),
                     0);
    /* the stored hash with its last or its first bit changed */
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1000$"
        KNOWN_SALT "$yqSq2SygY1sB4EcH9f2FG0JTMES-wqLsOT5YmiRBplM"), 0);
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1000$"
        KNOWN_SALT "$SqSq2SygY1sB4EcH9f2FG0JTMES-wqLsOT5YmiRBplI"), 0);
    /* the same hash under another iteration count or salt is wrong */
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1001$"
                                     KNOWN_SALT "$" KNOWN_HASH), 0);
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1000$"
                                     "MDEyMzQ1Njc4OWFiY2RlZw"
                                     "$" KNOWN_HASH), 0);
}
END_TEST

/* Correct hashes (python3, as above) whose parameters are out of range:
 * they must be refused even though the derived value matches. */
START_TEST(parameter_limits)
{
    /* 999 iterations */
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$999$"
        KNOWN_SALT "$5mLhQLu08DeL0aLYQWcaBbI--c7S134g_SmlC6UwTAI"), 0);
    /* 7-byte salt refused, 8 and 64 bytes accepted, 65 refused */
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1000$"
        "MDEyMzQ1Ng$FU359iu-uiKA478SIUXQrsTwH5WPiAX5M0FcRTqzf8A"), 0);
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1000$"
        "MDEyMzQ1Njc$1U6wsFoXPsBT5vIE8OSf09JhVYvVWSNfmPY7W76EDpQ"), 1);
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1000$"
        "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4"
        "eHh4eHh4eHh4eHh4eHh4eA$NgQd84Wqc3SzQSmJQaPpIrNRQuo0Ptd_LqGoAQDZwVI"),
        1);
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, "pbkdf2-sha256$1000$"
        "eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4eHh4"
        "eHh4eHh4eHh4eHh4eHh4eHg$UwBB6b7OC-66DXxmDc3jZSq6QIP4yfKSEB-z2zTr57Y"),
        0);
}
END_TEST

START_TEST(malformed)
{
    static const char *const bad[] = {
        "",
        "pbkdf2-sha256",
        "pbkdf2-sha256$",
        "pbkdf2-sha512$1000$" KNOWN_SALT "$" KNOWN_HASH,
        "PBKDF2-SHA256$1000$" KNOWN_SALT "$" KNOWN_HASH,
        " pbkdf2-sha256$1000$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$999$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$0$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$01000$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$+1000$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$-1000$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$1000x$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$10000001$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$99999999999999999999$" KNOWN_SALT "$" KNOWN_HASH,
        "pbkdf2-sha256$1000$" KNOWN_SALT,
        "pbkdf2-sha256$1000$" KNOWN_SALT "$",
        "pbkdf2-sha256$1000$$" KNOWN_HASH,
        "pbkdf2-sha256$1000$MDEy*zQ1Njc4OWFiY2RlZg$" KNOWN_HASH,
        "pbkdf2-sha256$1000$" KNOWN_SALT "==$" KNOWN_HASH,
        "pbkdf2-sha256$1000$" KNOWN_SALT "$" KNOWN_HASH "=",
        "pbkdf2-sha256$1000$" KNOWN_SALT "$" KNOWN_HASH "$",
        "pbkdf2-sha256$1000$" KNOWN_SALT "$" KNOWN_HASH "$x",
        "pbkdf2-sha256$1000$" KNOWN_SALT "$" KNOWN_HASH " ",
        /* truncated hash (31 bytes) and a hash one byte too long */
        "pbkdf2-sha256$1000$" KNOWN_SALT
            "$yqSq2SygY1sB4EcH9f2FG0JTMES-wqLsOT5YmiRBpg",
        "pbkdf2-sha256$1000$" KNOWN_SALT "$" KNOWN_HASH "AA",
        /* a last character with non-canonical bits */
        "pbkdf2-sha256$1000$" KNOWN_SALT
            "$yqSq2SygY1sB4EcH9f2FG0JTMES-wqLsOT5YmiRBplJ",
        /* salt too short (3 bytes) */
        "pbkdf2-sha256$1000$MDEy$" KNOWN_HASH,
    };
    size_t i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_kdf_verify(KNOWN_SECRET, bad[i]) == 0,
                      "accepted \"%s\"", bad[i]);
    }
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, NULL), 0);
    ck_assert_int_eq(pool_kdf_verify(NULL, KNOWN), 0);
}
END_TEST

START_TEST(secret_new)
{
    char *a = pool_secret_new(p), *b = pool_secret_new(p);
    unsigned char *d;

    ck_assert_ptr_nonnull(a);
    ck_assert_uint_eq(strlen(a), 43);
    ck_assert_int_eq(pool_b64url_decode(p, a, strlen(a), &d), 32);
    ck_assert_str_ne(a, b);
}
END_TEST

/* hmac-sha256$<salt>$<HMAC-SHA256(salt, secret)>: python3
 *   hmac.new(b'0123456789abcdef', b'correct horse battery staple',
 *            hashlib.sha256) */
#define HMAC_KNOWN "hmac-sha256$MDEyMzQ1Njc4OWFiY2RlZg" \
                   "$Dawvr-n-iTHecByjl1d3OEgVyduf7CNlSo3BCNBy0EM"

START_TEST(hmac_scheme)
{
    char *h = pool_secret_hash(p, "s3cret");
    static const char *const bad[] = {
        "hmac-sha256$MDEyMzQ1Njc4OWFiY2RlZg",
        "hmac-sha256$MDEyMzQ1Njc4OWFiY2RlZg$",
        "hmac-sha256$$Dawvr-n-iTHecByjl1d3OEgVyduf7CNlSo3BCNBy0EM",
        "hmac-sha256$MDEy$Dawvr-n-iTHecByjl1d3OEgVyduf7CNlSo3BCNBy0EM",
        HMAC_KNOWN "$",
        HMAC_KNOWN "AA",
        "hmac-sha512$MDEyMzQ1Njc4OWFiY2RlZg"
            "$Dawvr-n-iTHecByjl1d3OEgVyduf7CNlSo3BCNBy0EM",
    };
    size_t i;

    ck_assert_ptr_nonnull(h);
    ck_assert_int_eq(strncmp(h, "hmac-sha256$", 12), 0);
    ck_assert_int_eq(pool_kdf_verify("s3cret", h), 1);
    ck_assert_int_eq(pool_kdf_verify("s3creT", h), 0);
    ck_assert_int_eq(pool_kdf_verify("", h), 0);
    ck_assert_str_ne(h, pool_secret_hash(p, "s3cret"));
    ck_assert_int_eq(pool_kdf_verify(KNOWN_SECRET, HMAC_KNOWN), 1);
    ck_assert_int_eq(pool_kdf_verify("correct horse battery stapler",
                                     HMAC_KNOWN), 0);
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ck_assert_msg(pool_kdf_verify(KNOWN_SECRET, bad[i]) == 0,
                      "accepted \"%s\"", bad[i]);
    }
}
END_TEST

Suite *suite_kdf(void)
{
    Suite *s = suite_create("kdf");
    TCase *tc = tcase_create("pbkdf2");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, hash_format);
    tcase_add_test(tc, round_trip);
    tcase_add_test(tc, salts_differ);
    tcase_add_test(tc, known_vector);
    tcase_add_test(tc, parameter_limits);
    tcase_add_test(tc, malformed);
    tcase_add_test(tc, secret_new);
    tcase_add_test(tc, hmac_scheme);
    suite_add_tcase(s, tc);
    return s;
}
