#if HAVE_CONFIG_H
# include "config.h"
#endif

#include <libtasn1.h>

const asn1_static_node cms_asn1_tab[] = {
  { "CMS", 536875024, NULL },
  { NULL, 1073741836, NULL },
  { "ContentType", 12, NULL },
  { NULL, 0, NULL }
};
