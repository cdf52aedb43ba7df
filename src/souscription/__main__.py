from souscription.cli import main

raise SystemExit(main())
