#include <sqlite3.h>

#include "server/store/sqlite_db.h"
