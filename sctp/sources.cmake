# SCTP backend sources: common association code plus one file per
# implementation (kernel and usrsctp headers cannot share a file).
set(MSTLS_SCTP_SOURCES sctp/assoc.c sctp/addrs.c)
if(MSTLS_WITH_USRSCTP)
  list(APPEND MSTLS_SCTP_SOURCES sctp/usrsctp.c sctp/usrsctp_closer.c)
else()
  list(APPEND MSTLS_SCTP_SOURCES sctp/usrsctp_none.c)
endif()
if(MSTLS_WITH_KERNEL_SCTP)
  list(APPEND MSTLS_SCTP_SOURCES sctp/kernel.c)
else()
  list(APPEND MSTLS_SCTP_SOURCES sctp/kernel_none.c)
endif()
