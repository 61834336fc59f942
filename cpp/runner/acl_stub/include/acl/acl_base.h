// COMPILE-CHECK STUB, NOT THE ASCEND SDK: declarations only (see acl.h and ../../README.md).
// Subset of the CANN toolkit's include/acl/acl_base.h.
#ifndef ARTTRACK_ACL_STUB_ACL_BASE_H
#define ARTTRACK_ACL_STUB_ACL_BASE_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef int aclError;
static const int ACL_SUCCESS = 0;

typedef struct aclDataBuffer aclDataBuffer;

typedef enum {
  ACL_DT_UNDEFINED = -1,
  ACL_FLOAT = 0,
  ACL_FLOAT16 = 1,
  ACL_INT8 = 2,
  ACL_INT32 = 3,
  ACL_UINT8 = 4,
  ACL_INT16 = 6,
  ACL_UINT16 = 7,
  ACL_UINT32 = 8,
  ACL_INT64 = 9,
  ACL_UINT64 = 10,
  ACL_DOUBLE = 11,
  ACL_BOOL = 12,
} aclDataType;

aclDataBuffer *aclCreateDataBuffer(void *data, size_t size);
aclError aclDestroyDataBuffer(const aclDataBuffer *dataBuffer);

// The message of the latest failure in this thread (may be NULL or empty).
const char *aclGetRecentErrMsg(void);

#ifdef __cplusplus
}
#endif

#endif  // ARTTRACK_ACL_STUB_ACL_BASE_H
