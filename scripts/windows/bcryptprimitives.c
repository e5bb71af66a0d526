/* A stand-in for Windows' bcryptprimitives.dll, for running s3blob.exe under Wine 8.0, which
 * lacks it. Rust's standard library takes its random numbers from ProcessPrng (Windows 10 and
 * later have it); without the DLL the exe cannot start. This one answers from RtlGenRandom
 * (advapi32's SystemFunction036), which Wine has. Placed beside the exe by scripts/windows.sh;
 * never shipped, and real Windows never loads it from there (a system DLL comes first). */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
    while (len > 0) {
        ULONG chunk = len > 0x40000000 ? 0x40000000 : (ULONG)len;
        if (!SystemFunction036(data, chunk))
            return FALSE;
        data += chunk;
        len -= chunk;
    }
    return TRUE;
}
