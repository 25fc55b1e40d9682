#if HAVE_CONFIG_H
# include "config.h"
#endif

#include <libtasn1.h>

const asn1_static_node est_asn1_tab[] = {
  { "EST", 536875024, NULL },
  { NULL, 1073741836, NULL },
  { "CsrAttrs", 1612709899, NULL },
  { "MAX", 1074266122, "0"},
  { NULL, 2, "AttrOrOID"},
  { "AttrOrOID", 1610612754, NULL },
  { "oid", 1073741836, NULL },
  { "attribute", 2, "Attribute"},
  { "Attribute", 536870917, NULL },
  { "type", 1073741836, NULL },
  { "values", 538968079, NULL },
  { "MAX", 1074266122, "1"},
  { NULL, 13, NULL },
  { NULL, 0, NULL }
};
