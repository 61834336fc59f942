// COMPILE-CHECK STUB, NOT THE ASCEND SDK: declarations only, nothing implements them.
// A subset of the CANN toolkit's include/acl/acl.h (AscendCL), the part that
// cpp/runner/acl_backend.cpp uses, with the documented signatures; see ../../README.md.
// Real API: CANN "AscendCL API reference", https://www.hiascend.com/document
#ifndef ARTTRACK_ACL_STUB_ACL_H
#define ARTTRACK_ACL_STUB_ACL_H

#include "acl_base.h"
#include "acl_mdl.h"
#include "acl_rt.h"

#ifdef __cplusplus
extern "C" {
#endif

// Initialises AscendCL once per process; configPath may be NULL.
aclError aclInit(const char *configPath);
aclError aclFinalize(void);

#ifdef __cplusplus
}
#endif

#endif  // ARTTRACK_ACL_STUB_ACL_H
