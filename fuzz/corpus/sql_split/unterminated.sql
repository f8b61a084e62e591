SELECT 'abc;
  ;; /* open