// A spherical particle of radius R. Names: surface / particle.
SetFactory("OpenCASCADE");
R = 1.0;
h = R / 5;
Sphere(1) = {0, 0, 0, R};
Physical Surface("surface") = {1};
Physical Volume("particle") = {1};
Mesh.MeshSizeMax = h;
