/* Runs a Windows program under Wine and writes its exit code to a file, for
 * scripts/windows/wine-run. Wine's server sends SIGKILL to a process's Unix side when it is
 * still alive about a second after the Windows program exited (it can be, on a loaded machine),
 * so a Unix parent then sees 137 instead of the program's exit code. This program's parent is
 * Wine itself: it waits for the child through Windows and writes the code before it exits, so
 * the code survives even if this process is killed the same way afterwards.
 *
 *   S3BLOB_WINE_EXIT_FILE='Z:\path\to\file' wine exitcode.exe PROGRAM.exe ARGS...
 *
 * The command line after this program's own name is passed on unchanged; standard input,
 * output and error are inherited. Exit 125 (and a line on stderr) when the program cannot be
 * started. Never shipped. */
#include <windows.h>
#include <stdio.h>
#include <wchar.h>

static const wchar_t *skip_first_argument(const wchar_t *line)
{
    /* The rule Windows' own parser uses for argv[0]: a quoted name ends at the next quote,
     * an unquoted one at the first space or tab. */
    if (*line == L'"') {
        line++;
        while (*line && *line != L'"')
            line++;
        if (*line)
            line++;
    } else {
        while (*line && *line != L' ' && *line != L'\t')
            line++;
    }
    while (*line == L' ' || *line == L'\t')
        line++;
    return line;
}

static HANDLE inheritable(DWORD which)
{
    HANDLE h = GetStdHandle(which), dup = NULL;
    if (h == NULL || h == INVALID_HANDLE_VALUE)
        return h;
    if (!DuplicateHandle(GetCurrentProcess(), h, GetCurrentProcess(), &dup, 0, TRUE,
                         DUPLICATE_SAME_ACCESS))
        return h;
    return dup;
}

int main(void)
{
    wchar_t path[MAX_PATH * 4];
    DWORD n = GetEnvironmentVariableW(L"S3BLOB_WINE_EXIT_FILE", path, MAX_PATH * 4);
    if (n == 0 || n >= MAX_PATH * 4) {
        fprintf(stderr, "exitcode.exe: S3BLOB_WINE_EXIT_FILE is not set\n");
        return 125;
    }
    SetEnvironmentVariableW(L"S3BLOB_WINE_EXIT_FILE", NULL);

    const wchar_t *rest = skip_first_argument(GetCommandLineW());
    if (!*rest) {
        fprintf(stderr, "exitcode.exe: no program to run\n");
        return 125;
    }
    size_t len = wcslen(rest) + 1;
    wchar_t *line = HeapAlloc(GetProcessHeap(), 0, len * sizeof(wchar_t));
    if (!line)
        return 125;
    memcpy(line, rest, len * sizeof(wchar_t)); /* CreateProcessW may write to it */

    STARTUPINFOW si;
    PROCESS_INFORMATION pi;
    ZeroMemory(&si, sizeof si);
    si.cb = sizeof si;
    si.dwFlags = STARTF_USESTDHANDLES;
    si.hStdInput = inheritable(STD_INPUT_HANDLE);
    si.hStdOutput = inheritable(STD_OUTPUT_HANDLE);
    si.hStdError = inheritable(STD_ERROR_HANDLE);
    if (!CreateProcessW(NULL, line, NULL, NULL, TRUE, 0, NULL, NULL, &si, &pi)) {
        fprintf(stderr, "exitcode.exe: cannot start %ls (error %lu)\n", line, GetLastError());
        return 125;
    }
    CloseHandle(si.hStdInput);
    CloseHandle(si.hStdOutput);
    CloseHandle(si.hStdError);
    CloseHandle(pi.hThread);
    WaitForSingleObject(pi.hProcess, INFINITE);
    DWORD code = 1;
    GetExitCodeProcess(pi.hProcess, &code);

    HANDLE f = CreateFileW(path, GENERIC_WRITE, 0, NULL, CREATE_ALWAYS, FILE_ATTRIBUTE_NORMAL, NULL);
    if (f == INVALID_HANDLE_VALUE) {
        fprintf(stderr, "exitcode.exe: cannot write %ls (error %lu)\n", path, GetLastError());
        return 125;
    }
    char text[16];
    int len8 = snprintf(text, sizeof text, "%lu\n", (unsigned long)code);
    DWORD written = 0;
    WriteFile(f, text, (DWORD)len8, &written, NULL);
    CloseHandle(f);
    return (int)code;
}
