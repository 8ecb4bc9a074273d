DROP TABLE password_params;
