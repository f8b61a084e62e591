SELECT ' ';
